#!/usr/bin/env python3
"""An Outbound device written from docs/protocol.md alone.

It shares no code with the project (Python 3, standard library only), so it shows the spec is
enough to build a device, and it doubles as a reference for device makers.

Modes:
  serve            HELLO2, CHALLENGE, PROOF, WELCOME (whose server proof it checks), PING every heartbeat interval, answer server PINGs, print each
                   COMMAND as a JSON line and ACK it OK with --result-hex (a duplicate id is
                   re-ACKed with the first result, not applied again); exit after --count commands.
  <malformed>      break one rule and report, as one JSON line, the ERROR frame the server sent
                   and whether the server then closed the connection (see MALFORMED below).

Every line printed on stdout is one JSON object.
"""
import argparse
import hashlib
import hmac
import json
import os
import socket
import struct
import sys
import time
import uuid

MAGIC = b"OB"
VERSION = 0x01
HEADER = struct.Struct(">2sBBI")  # magic, version, type, body length (big-endian)

HELLO, WELCOME, PING, PONG = 0x01, 0x02, 0x03, 0x04
HELLO2, CHALLENGE, PROOF = 0x05, 0x06, 0x07
COMMAND, ACK, GOAWAY, ERROR = 0x10, 0x11, 0x30, 0x7F
ACK_OK, ACK_REJECTED, ACK_BUSY = 0x00, 0x01, 0x02
ERROR_NAMES = {1: "BAD_FRAME", 2: "AUTH_FAILED", 3: "TOO_LARGE", 4: "HANDSHAKE_TIMEOUT",
               5: "SUPERSEDED", 6: "IDLE_TIMEOUT", 7: "BUSY", 8: "PROTOCOL", 9: "RATE_LIMITED"}
HANDSHAKE_FRAME_LIMIT = 512


class ProtocolViolation(Exception):
    """The server sent something the spec does not allow."""


def emit(**fields):
    print(json.dumps(fields), flush=True)


def frame(ftype, body=b"", magic=MAGIC, version=VERSION, declared_length=None):
    length = len(body) if declared_length is None else declared_length
    return HEADER.pack(magic, version, ftype, length) + body


def device_key(phy_id, secret):
    """The key of a device without a provisioned one: HMAC-SHA256(fleet secret, phyId), raw bytes."""
    return hmac.new(secret.encode(), phy_id.encode(), hashlib.sha256).digest()


def token_for(phy_id, secret):
    """The v1 static token: the device key as lowercase hex."""
    return device_key(phy_id, secret).hex()


def hello_body(phy_id, token):
    pid, tok = phy_id.encode(), token.encode()
    return struct.pack(">B", len(pid)) + pid + struct.pack(">B", len(tok)) + tok


def hello2_body(phy_id, client_nonce):
    pid = phy_id.encode()
    return struct.pack(">B", len(pid)) + pid + client_nonce


def proof_for(key, phy_id, client_nonce, server_nonce):
    """PROOF = HMAC-SHA256(deviceKey, "OB2" || u8 idLen || phyId || clientNonce || serverNonce)."""
    pid = phy_id.encode()
    return hmac.new(key, b"OB2" + struct.pack(">B", len(pid)) + pid + client_nonce + server_nonce, hashlib.sha256).digest()


def server_proof_for(key, server_nonce, client_nonce):
    """What WELCOME carries after the heartbeat: HMAC-SHA256(deviceKey, "OB2S" || serverNonce || clientNonce)."""
    return hmac.new(key, b"OB2S" + server_nonce + client_nonce, hashlib.sha256).digest()


class Connection:
    """One TCP connection: exact reads, frame parsing, and how the peer closed."""

    def __init__(self, host, port, max_frame):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.max_frame = max_frame

    def send(self, data):
        self.sock.sendall(data)

    def _read_exact(self, n, timeout):
        self.sock.settimeout(timeout)
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("eof after %d of %d bytes" % (len(buf), n))
            buf += chunk
        return buf

    def read_frame(self, timeout):
        """(type, body); raises socket.timeout, EOFError, ConnectionResetError or ProtocolViolation."""
        magic, version, ftype, length = HEADER.unpack(self._read_exact(HEADER.size, timeout))
        if magic != MAGIC or version != VERSION:
            raise ProtocolViolation("bad header from server: magic %r version %d" % (magic, version))
        if length > self.max_frame:
            raise ProtocolViolation("server frame of %d bytes exceeds %d" % (length, self.max_frame))
        return ftype, self._read_exact(length, timeout) if length else b""

    def wait_closed(self, timeout):
        """How the server ended the connection: 'eof', 'reset', 'timeout' or 'data' (bytes arrived)."""
        self.sock.settimeout(timeout)
        try:
            return "data" if self.sock.recv(1) else "eof"
        except socket.timeout:
            return "timeout"
        except ConnectionResetError:
            return "reset"

    def close(self):
        self.sock.close()


def parse_error(body):
    if len(body) < 1:
        raise ProtocolViolation("ERROR frame without a code")
    code = body[0]
    return {"code": code, "name": ERROR_NAMES.get(code, "UNKNOWN"), "reason": body[1:].decode("utf-8")}


def read_expected(conn, want, length, timeout):
    ftype, body = conn.read_frame(timeout)
    if ftype == ERROR:
        raise ProtocolViolation("handshake refused: %s" % json.dumps(parse_error(body)))
    if ftype != want or len(body) != length:
        raise ProtocolViolation("expected type 0x%02x of %d bytes, got type 0x%02x (%d bytes)" % (want, length, ftype, len(body)))
    return body


def challenge(conn, phy_id, timeout, client_nonce=None):
    """HELLO2, then the CHALLENGE's server nonce. Returns (client nonce, server nonce)."""
    client_nonce = client_nonce or os.urandom(16)
    conn.send(frame(HELLO2, hello2_body(phy_id, client_nonce)))
    return client_nonce, read_expected(conn, CHALLENGE, 16, timeout)


def handshake(conn, phy_id, key, timeout):
    """HELLO2, CHALLENGE, PROOF, WELCOME; checks the server proof; returns the heartbeat seconds."""
    client_nonce, server_nonce = challenge(conn, phy_id, timeout)
    conn.send(frame(PROOF, proof_for(key, phy_id, client_nonce, server_nonce)))
    body = read_expected(conn, WELCOME, 34, timeout)
    if not hmac.compare_digest(body[2:], server_proof_for(key, server_nonce, client_nonce)):
        raise ProtocolViolation("the WELCOME's server proof does not match our key: not our server")
    return struct.unpack(">H", body[:2])[0]


def expect_error_and_close(conn, timeout, started):
    """Reads until an ERROR frame (noting other frames), then how the server closed."""
    seen = []
    result = {"error": None, "framesBeforeError": seen}
    try:
        while True:
            ftype, body = conn.read_frame(timeout)
            if ftype == ERROR:
                result["error"] = parse_error(body)
                break
            seen.append(ftype)
    except socket.timeout:
        result["close"] = "timeout"
        return result
    except (EOFError, ConnectionResetError) as exc:
        result["close"] = "reset" if isinstance(exc, ConnectionResetError) else "eof"
        result["closedByServer"] = True
        return result
    result["elapsedMs"] = round((time.monotonic() - started) * 1000)
    result["close"] = conn.wait_closed(timeout)
    result["closedByServer"] = result["close"] in ("eof", "reset")
    return result


def serve(args):
    conn = Connection(args.host, args.port, args.max_frame)
    heartbeat = handshake(conn, args.phy_id, device_key(args.phy_id, args.secret), args.timeout)
    emit(event="welcome", heartbeatSeconds=heartbeat)
    result = bytes.fromhex(args.result_hex)
    applied = {}  # command id -> the result we ACKed it with (duplicates are re-ACKed, not re-applied)
    next_ping = time.monotonic() + heartbeat
    ping_seq = 0
    outstanding_ping = None
    deadline = time.monotonic() + args.timeout
    while len(applied) < args.count:
        now = time.monotonic()
        if now > deadline:
            raise ProtocolViolation("no COMMAND within %s s" % args.timeout)
        if now >= next_ping:
            ping_seq += 1
            outstanding_ping = ("hb%04d" % ping_seq).encode()
            conn.send(frame(PING, outstanding_ping))
            next_ping = now + heartbeat
        try:
            ftype, body = conn.read_frame(max(0.01, next_ping - time.monotonic()))
        except socket.timeout:
            continue
        if ftype == PING:
            conn.send(frame(PONG, body))
        elif ftype == PONG:
            if body != outstanding_ping:
                raise ProtocolViolation("PONG %r does not echo PING %r" % (body, outstanding_ping))
            emit(event="pong", bytes=body.decode())
        elif ftype == COMMAND:
            if len(body) < 16:
                raise ProtocolViolation("COMMAND body of %d bytes has no id" % len(body))
            cid, payload = body[:16], body[16:]
            duplicate = cid in applied
            if not duplicate:
                applied[cid] = result  # here a real device would apply the payload
            emit(event="command", id=str(uuid.UUID(bytes=cid)), payloadHex=payload.hex(), duplicate=duplicate)
            conn.send(frame(ACK, cid + struct.pack(">B", ACK_OK) + applied[cid]))
        elif ftype == GOAWAY:
            emit(event="goaway", reconnectAfterMs=struct.unpack(">I", body)[0])
            break
        elif ftype == ERROR:
            emit(event="error", error=parse_error(body))
            break
        else:
            raise ProtocolViolation("unexpected frame type 0x%02x" % ftype)
    conn.close()
    emit(event="done", commands=len(applied))


def malformed(args):
    """Each case breaks one rule; the report says which ERROR came back and how the socket ended."""
    key = device_key(args.phy_id, args.secret)
    good_hello = hello2_body(args.phy_id, os.urandom(16))
    conn = Connection(args.host, args.port, args.max_frame)
    started = time.monotonic()
    report = {"mode": args.mode}
    mode = args.mode
    if mode == "bad-magic":
        conn.send(frame(HELLO2, good_hello, magic=b"XB"))
    elif mode == "bad-version":
        conn.send(frame(HELLO2, good_hello, version=0x02))
    elif mode == "v1-hello":
        conn.send(frame(HELLO, hello_body(args.phy_id, token_for(args.phy_id, args.secret))))
    elif mode == "bad-hello-body":
        conn.send(frame(HELLO2, hello2_body("bad id!", os.urandom(16))))  # space and '!' are outside the phyId alphabet
    elif mode == "too-large":
        conn.send(frame(HELLO2, declared_length=HANDSHAKE_FRAME_LIMIT + 1))  # the header alone: the length must be refused
    elif mode == "handshake-timeout":
        pass  # connect and say nothing
    elif mode == "ack-before-hello":
        conn.send(frame(ACK, uuid.uuid4().bytes + b"\x00"))
    elif mode in ("wrong-proof", "proof-timeout", "ping-before-proof", "replayed-proof"):
        client_nonce, server_nonce = challenge(conn, args.phy_id, args.timeout)
        started = time.monotonic()
        if mode == "wrong-proof":
            conn.send(frame(PROOF, proof_for(device_key(args.phy_id, "not-" + args.secret), args.phy_id, client_nonce, server_nonce)))
        elif mode == "ping-before-proof":
            conn.send(frame(PING, b"early"))
        elif mode == "replayed-proof":
            # A PROOF an eavesdropper captured: right for this connection's nonces, then replayed
            # on a new connection with the same HELLO2. The new server nonce makes it worthless.
            captured = proof_for(key, args.phy_id, client_nonce, server_nonce)
            conn.send(frame(PROOF, captured))
            report["firstWelcomed"] = len(read_expected(conn, WELCOME, 34, args.timeout)) == 34
            replay = Connection(args.host, args.port, args.max_frame)
            _, replay_nonce = challenge(replay, args.phy_id, args.timeout, client_nonce)
            report["serverNonceDiffers"] = replay_nonce != server_nonce
            replay.send(frame(PROOF, captured))
            report.update(expect_error_and_close(replay, args.timeout, time.monotonic()))
            replay.close()
            conn.close()
            emit(**report)
            return
    else:
        report["heartbeatSeconds"] = handshake(conn, args.phy_id, key, args.timeout)
        started = time.monotonic()
        if mode == "idle":
            pass  # stay silent after WELCOME
        elif mode == "unknown-type":
            conn.send(frame(0x55))
        elif mode == "command-from-device":
            conn.send(frame(COMMAND, uuid.uuid4().bytes + b"x"))
        elif mode == "hello-twice":
            conn.send(frame(HELLO2, good_hello))
        elif mode == "big-pong":
            conn.send(frame(PONG, b"x" * 65))
        elif mode == "too-large-after-welcome":
            conn.send(frame(ACK, declared_length=args.max_frame + 1))
        elif mode in ("supersede", "busy"):
            # A second connection: with the same phyId it supersedes this one; on an ingress with
            # a connection limit of one it is refused with BUSY (then the first must stay alive).
            second = Connection(args.host, args.port, args.max_frame)
            second_id = args.phy_id if mode == "supersede" else args.phy_id + "-2"
            if mode == "busy":
                second.send(frame(HELLO2, hello2_body(second_id, os.urandom(16))))
                report.update(expect_error_and_close(second, args.timeout, started))
                conn.send(frame(PING, b"still-here"))
                ftype, body = conn.read_frame(args.timeout)
                report["firstAlive"] = ftype == PONG and body == b"still-here"
                conn.close()
                emit(**report)
                return
            report["secondWelcomed"] = handshake(second, second_id, key, args.timeout) > 0
            report.update(expect_error_and_close(conn, args.timeout, started))
            second.send(frame(PING, b"still-here"))
            ftype, body = second.read_frame(args.timeout)
            report["secondAlive"] = ftype == PONG and body == b"still-here"
            second.close()
            emit(**report)
            return
        else:
            raise SystemExit("unknown mode %s" % mode)
    report.update(expect_error_and_close(conn, args.timeout, started))
    conn.close()
    emit(**report)


MALFORMED = ["bad-magic", "bad-version", "v1-hello", "bad-hello-body", "too-large", "handshake-timeout",
             "ack-before-hello", "wrong-proof", "proof-timeout", "ping-before-proof", "replayed-proof",
             "idle", "unknown-type", "command-from-device", "hello-twice", "big-pong",
             "too-large-after-welcome", "supersede", "busy"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["serve"] + MALFORMED)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--phy-id", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--max-frame", type=int, default=65536)
    parser.add_argument("--timeout", type=float, default=10.0, help="longest wait for any one answer, seconds")
    parser.add_argument("--count", type=int, default=1, help="serve: exit after this many distinct commands")
    parser.add_argument("--result-hex", default="", help="serve: the ACK's result bytes")
    args = parser.parse_args()
    try:
        serve(args) if args.mode == "serve" else malformed(args)
    except (ProtocolViolation, EOFError, ConnectionError, socket.timeout) as exc:
        emit(event="failed", mode=args.mode, reason="%s: %s" % (type(exc).__name__, exc))
        sys.exit(1)


if __name__ == "__main__":
    main()
