import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FrameType, WireErrorCode, AckStatus } from '@outbound/core';
import { withExampleSession } from '../../src/protocol/example-session';

const docPath = join(__dirname, '..', '..', '..', '..', 'docs', 'protocol.md');
const doc = readFileSync(docPath, 'utf8');

describe('docs/protocol.md', () => {
  it('carries the session dump the encoder produces today (run scripts/gen-protocol-session.js after a change)', () => {
    expect(withExampleSession(doc)).toBe(doc);
  });

  it('lists every frame type, ERROR code and ACK status with its value', () => {
    const hex = (value: number) => `\`0x${value.toString(16).padStart(2, '0').toUpperCase()}\``;
    for (const [name, value] of Object.entries(FrameType)) expect(doc).toContain(`| ${hex(value)} | ${name} |`);
    for (const [name, value] of Object.entries(WireErrorCode)) expect(doc).toContain(`| ${hex(value)} | ${name} |`);
    for (const [name, value] of Object.entries(AckStatus)) expect(doc).toContain(`| ${hex(value)} | ${name} |`);
  });
});
