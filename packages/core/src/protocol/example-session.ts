import { AckStatus, WireErrorCode } from './constants';
import {
  encodeAck,
  encodeCommand,
  encodeError,
  encodeGoaway,
  encodePing,
  encodePong,
  encodeWelcome,
} from './frame-bodies';
import { deriveDeviceKey, deviceProof, serverProof } from './handshake';
import { encodeChallenge, encodeHello2, encodeProof } from './handshake-bodies';

/*
 * The example session docs/protocol.md shows as a hex dump. The dump there is generated from
 * this file through the real encoder (scripts/gen-protocol-session.js) and a test compares
 * them, so the document cannot drift from the code.
 */

/** Fixed inputs of the example, quoted in the document. */
export const EXAMPLE = {
  phyId: 'DEV001',
  secret: 'example-fleet-secret-0123456789abcdef',
  clientNonce: '000102030405060708090a0b0c0d0e0f',
  serverNonce: 'f0e1d2c3b4a5968778695a4b3c2d1e0f',
  /** A provisioned key (the second set of test vectors). */
  provisionedKey: '404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f',
  heartbeatSeconds: 30,
  commandId: '3f2b8c1e-7d4a-4e9b-a6c5-0123456789ab',
  payload: 'set-power:on',
  result: 'done',
  pingData: 'hb01',
  goawayMs: 5000,
} as const;

export interface ExampleFrame {
  direction: 'device → server' | 'server → device';
  title: string;
  bytes: Buffer;
}

/** The handshake's values for one key: what a device maker checks an implementation against. */
export interface HandshakeVectors {
  deviceKey: Buffer;
  proof: Buffer;
  serverProof: Buffer;
}

export function handshakeVectors(deviceKey: Buffer): HandshakeVectors {
  const e = EXAMPLE;
  const clientNonce = Buffer.from(e.clientNonce, 'hex');
  const serverNonce = Buffer.from(e.serverNonce, 'hex');
  return { deviceKey, proof: deviceProof(deviceKey, e.phyId, clientNonce, serverNonce), serverProof: serverProof(deviceKey, serverNonce, clientNonce) };
}

/** HELLO2, CHALLENGE, PROOF, WELCOME, COMMAND, ACK, PING, PONG, GOAWAY, then an ERROR of a failed handshake. */
export function exampleSession(): ExampleFrame[] {
  const e = EXAMPLE;
  const v = handshakeVectors(deriveDeviceKey(e.secret, e.phyId));
  return [
    { direction: 'device → server', title: `HELLO2 phyId "${e.phyId}", client nonce ${e.clientNonce}`, bytes: encodeHello2(e.phyId, Buffer.from(e.clientNonce, 'hex')) },
    { direction: 'server → device', title: `CHALLENGE server nonce ${e.serverNonce}`, bytes: encodeChallenge(Buffer.from(e.serverNonce, 'hex')) },
    { direction: 'device → server', title: 'PROOF = HMAC-SHA256(deviceKey, "OB2" ‖ 0x06 ‖ "DEV001" ‖ client nonce ‖ server nonce)', bytes: encodeProof(v.proof) },
    { direction: 'server → device', title: `WELCOME heartbeat ${e.heartbeatSeconds} s, server proof = HMAC-SHA256(deviceKey, "OB2S" ‖ server nonce ‖ client nonce)`, bytes: encodeWelcome(e.heartbeatSeconds, v.serverProof) },
    { direction: 'server → device', title: `COMMAND id ${e.commandId}, payload "${e.payload}"`, bytes: encodeCommand(e.commandId, Buffer.from(e.payload)) },
    { direction: 'device → server', title: `ACK same id, status 0x00 OK, result "${e.result}"`, bytes: encodeAck(e.commandId, AckStatus.OK, Buffer.from(e.result)) },
    { direction: 'device → server', title: `PING "${e.pingData}" (the device's heartbeat)`, bytes: encodePing(Buffer.from(e.pingData)) },
    { direction: 'server → device', title: 'PONG echoing the PING bytes', bytes: encodePong(Buffer.from(e.pingData)) },
    { direction: 'server → device', title: `GOAWAY reconnect after ${e.goawayMs} ms (the server is draining)`, bytes: encodeGoaway(e.goawayMs) },
    { direction: 'server → device', title: 'ERROR 0x02 AUTH_FAILED (another connection, whose PROOF was wrong)', bytes: encodeError(WireErrorCode.AUTH_FAILED, 'bad proof') },
  ];
}

/** Classic `hexdump -C` lines: offset, 16 bytes in two groups of 8, printable ASCII. */
export function hexDump(bytes: Buffer): string[] {
  const lines: string[] = [];
  for (let offset = 0; offset < bytes.length; offset += 16) {
    const row = bytes.subarray(offset, offset + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0'));
    const left = hex.slice(0, 8).join(' ');
    const right = hex.slice(8).join(' ');
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${offset.toString(16).padStart(8, '0')}  ${left.padEnd(23)}  ${right.padEnd(23)}  |${ascii}|`);
  }
  return lines;
}

function vectorLines(title: string, v: HandshakeVectors): string[] {
  return [title, `  deviceKey   = ${v.deviceKey.toString('hex')}`, `  PROOF       = ${v.proof.toString('hex')}`, `  serverProof = ${v.serverProof.toString('hex')}`];
}

/** The markdown the document carries between its session-dump markers: test vectors, then the session. */
export function exampleSessionMarkdown(): string {
  const e = EXAMPLE;
  const vectors = [
    `phyId = "${e.phyId}", clientNonce = ${e.clientNonce}, serverNonce = ${e.serverNonce}`,
    '',
    ...vectorLines(`derived key: fleet secret "${e.secret}"`, handshakeVectors(deriveDeviceKey(e.secret, e.phyId))),
    `  v1 token    = ${deriveDeviceKey(e.secret, e.phyId).toString('hex')} (the derived key's hex)`,
    '',
    ...vectorLines('provisioned key', handshakeVectors(Buffer.from(e.provisionedKey, 'hex'))),
  ];
  const blocks = exampleSession().map((frame, index) => {
    const header = frame.bytes.subarray(0, 8).toString('hex').replace(/(..)(..)(..)(..)(........)/, '$1$2 $3 $4 $5');
    return [
      `${index + 1}. ${frame.direction}: ${frame.title}`,
      `   header: magic/version/type/length = ${header} (body ${frame.bytes.length - 8} bytes)`,
      ...hexDump(frame.bytes).map((line) => `   ${line}`),
    ].join('\n');
  });
  return ['Test vectors:', '', '```text', ...vectors, '```', '', 'The session:', '', '```text', blocks.join('\n\n'), '```'].join('\n');
}

export const SESSION_DUMP_BEGIN = '<!-- session-dump:begin (generated by scripts/gen-protocol-session.js; do not edit) -->';
export const SESSION_DUMP_END = '<!-- session-dump:end -->';

/** Replaces the text between the markers in `document` with the freshly generated dump. */
export function withExampleSession(document: string): string {
  const begin = document.indexOf(SESSION_DUMP_BEGIN);
  const end = document.indexOf(SESSION_DUMP_END);
  if (begin < 0 || end < begin) throw new Error('docs/protocol.md lacks the session-dump markers');
  return `${document.slice(0, begin + SESSION_DUMP_BEGIN.length)}\n${exampleSessionMarkdown()}\n${document.slice(end)}`;
}
