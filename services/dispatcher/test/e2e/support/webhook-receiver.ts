import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export type ReceiverMode = 'ok' | 'unavailable' | 'gone';

export interface ReceivedEvent {
  webhookId: string;
  type: string;
  data: { id: string; type: string; commandId?: string; phyId: string };
}

/**
 * A webhook receiver as a customer would run one (real `node:http`): it verifies every POST with
 * `standardwebhooks`, counts what it was sent and answers per its mode: `ok` 204, `unavailable`
 * 503, `gone` 410. `close()`/`listen()` take it off the network and bring it back on the same port.
 */
export class WebhookReceiver {
  private server: Server;
  private secret = '';
  private port = 0;
  mode: ReceiverMode = 'ok';
  /** Every verified POST, in arrival order (duplicates included). */
  readonly received: ReceivedEvent[] = [];
  /** POSTs whose signature did not verify. */
  readonly badSignatures: string[] = [];
  /** POSTs answered other than 2xx. */
  refused = 0;

  constructor() {
    this.server = this.makeServer();
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/outbound`;
  }

  /** The webhook's signing secret, once it is created. */
  useSecret(secret: string): void {
    this.secret = secret;
  }

  /** Unique webhook-ids received. */
  ids(): Set<string> {
    return new Set(this.received.map((r) => r.webhookId));
  }

  async listen(): Promise<void> {
    this.server = this.makeServer();
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private makeServer(): Server {
    return createServer((req, res) => {
      void readBody(req).then((body) => {
        if (this.mode !== 'ok') {
          this.refused += 1;
          res.writeHead(this.mode === 'gone' ? 410 : 503).end();
          return;
        }
        try {
          const payload = new Webhook(this.secret).verify(body, req.headers as Record<string, string>) as { type: string; data: ReceivedEvent['data'] };
          this.received.push({ webhookId: String(req.headers['webhook-id']), type: payload.type, data: payload.data });
          res.writeHead(204).end();
        } catch (error) {
          this.badSignatures.push(`${String(req.headers['webhook-id'])}: ${(error as Error).message}`);
          res.writeHead(400).end();
        }
      });
    });
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
