import { connect, type Socket } from 'node:net';

/**
 * A raw TCP connection to an HTTP server, for what an HTTP client library will not do:
 * send headers and then only part of a body, dribble bytes, or hold a connection idle.
 * It records everything the server sends and when the server closed the connection.
 */
export class RawHttpConnection {
  received = '';
  closedAt: number | null = null;
  readonly openedAt = Date.now();
  private constructor(readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.received += chunk;
    });
    // The server may reset a connection it refuses while we still write: that is an answer too.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closedAt = Date.now();
    });
  }

  static open(port: number): Promise<RawHttpConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => resolve(new RawHttpConnection(socket)));
      socket.once('error', reject);
    });
  }

  /** Writes unless the server already closed the connection; answers whether it wrote. */
  write(data: string | Buffer): boolean {
    if (this.socket.destroyed || !this.socket.writable) return false;
    this.socket.write(data);
    return true;
  }

  /** The status code of the first answer, or null if none arrived yet. */
  get status(): number | null {
    const match = /^HTTP\/1\.1 (\d{3})/.exec(this.received);
    return match ? Number(match[1]) : null;
  }

  get closed(): boolean {
    return this.closedAt !== null;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Request line and headers, ending with the blank line. */
export function requestHead(method: string, path: string, headers: Record<string, string | number>): string {
  const lines = Object.entries({ Host: '127.0.0.1', ...headers }).map(([k, v]) => `${k}: ${v}`);
  return `${method} ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
}
