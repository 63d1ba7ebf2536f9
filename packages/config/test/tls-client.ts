import { connect, type ConnectionOptions } from 'node:tls';

/** What a client saw of a connection the server let through to its application. */
export interface Accepted {
  accepted: true;
  /** Serial of the certificate the server presented. */
  serial: string;
  protocol: string | null;
  cipher: string;
  ephemeral: { type?: string; name?: string; size?: number };
  reused: boolean;
  /** The session to resume with, when the server issued one. */
  session: Buffer | undefined;
}

export interface Refused {
  accepted: false;
  /** The error code the client got (an alert), or `closed`. */
  reason: string;
}

/**
 * One real client connection to a server whose connection handler writes `ok` and ends. Accepted
 * means the application got the connection and answered: in TLS 1.3 the client finishes its side
 * of the handshake before the server has checked the client's certificate, so a handshake alone
 * is no proof. A client that waits longer than `timeoutMs` rejects: a hang is not a refusal.
 */
export function attempt(port: number, ca: string, options: ConnectionOptions = {}, timeoutMs = 10_000): Promise<Accepted | Refused> {
  return new Promise((resolve, reject) => {
    let data = '';
    let seen: Omit<Accepted, 'accepted' | 'session'> | undefined;
    let session: Buffer | undefined;
    let failure: string | undefined;
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...options }, () => {
      seen = {
        serial: socket.getPeerCertificate().serialNumber,
        protocol: socket.getProtocol(),
        cipher: socket.getCipher().name,
        ephemeral: socket.getEphemeralKeyInfo() ?? {},
        reused: socket.isSessionReused(),
      };
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from the server within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('session', (s: Buffer) => {
      session = s;
    });
    socket.on('data', (chunk) => {
      data += chunk;
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      failure ??= err.code ?? err.message;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (data === 'ok' && seen) resolve({ accepted: true, ...seen, session });
      else resolve({ accepted: false, reason: failure ?? 'closed' });
    });
  });
}
