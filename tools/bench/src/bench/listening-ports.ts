import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * The TCP ports process `pid` listens on, read from /proc (Linux): the inodes of its open
 * sockets matched against the kernel's listening sockets. A port chosen free and handed to a
 * child can be taken by another process before the child binds it; this tells whether the
 * server answering on that port is the child.
 */
export function listeningPorts(pid: number): Set<number> {
  const inodes = socketInodes(pid);
  const ports = new Set<number>();
  for (const { port, inode } of listeningSockets()) if (inodes.has(inode)) ports.add(port);
  return ports;
}

/** Whether any process listens on TCP `port` (e.g. the one that took a port chosen for a child). */
export function anyListensOn(port: number): boolean {
  return listeningSockets().some((socket) => socket.port === port);
}

function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const socket = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (socket) inodes.add(socket[1]!);
    } catch {
      // closed since the listing
    }
  }
  return inodes;
}

/** The kernel's listening TCP sockets (IPv4 and IPv6): local port and socket inode. */
function listeningSockets(): { port: number; inode: string }[] {
  const sockets: { port: number; inode: string }[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    // Columns: sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode; st 0A = LISTEN.
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A') sockets.push({ port: parseInt(f[1]!.split(':')[1]!, 16), inode: f[9]! });
    }
  }
  return sockets;
}
