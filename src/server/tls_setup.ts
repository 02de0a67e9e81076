/**
 * TLS files for `chat serve --tls-cert --tls-key` and `chat connect --ca`:
 * reading the PEM files and checking the pair, with errors a person can act
 * on instead of stack traces.
 *
 * @module
 */

/** A TLS file or setting that cannot be used: one line for the user. */
export class TlsSetupError extends Error {
  /** @param message one line, naming the flag and the file. */
  constructor(message: string) {
    super(message);
    this.name = "TlsSetupError";
  }
}

/** The server's certificate chain and private key, as PEM text. */
export interface TlsFiles {
  cert: string;
  key: string;
}

function readPem(path: string, flag: string, marker: RegExp, what: string) {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : error instanceof Deno.errors.IsADirectory
      ? "it is a directory"
      : (error as Error).message.split("\n")[0];
    throw new TlsSetupError(`cannot read ${flag} ${path}: ${why}`);
  }
  if (!marker.test(text)) {
    throw new TlsSetupError(`${flag} ${path} holds no ${what} (PEM expected)`);
  }
  return text;
}

const CERTIFICATE = /-----BEGIN CERTIFICATE-----/;
const PRIVATE_KEY = /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/;

/** Reads `--tls-cert` and `--tls-key`; throws {@linkcode TlsSetupError}. */
export function readTlsFiles(certPath: string, keyPath: string): TlsFiles {
  return {
    cert: readPem(certPath, "--tls-cert", CERTIFICATE, "certificate"),
    key: readPem(keyPath, "--tls-key", PRIVATE_KEY, "private key"),
  };
}

/** Reads `--ca`: the certificate(s) a client trusts besides the system's. */
export function readCaFile(path: string): string {
  return readPem(path, "--ca", CERTIFICATE, "certificate");
}

/**
 * Checks that the certificate and key work together, with the TLS library
 * clients will meet, by opening and at once closing a TLS listener on a free
 * port: a key that belongs to another certificate is refused here, at
 * startup, instead of failing every handshake later.
 */
export function checkTlsPair(hostname: string, files: TlsFiles): void {
  try {
    Deno.listenTls({ hostname, port: 0, cert: files.cert, key: files.key })
      .close();
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    if (/KeyMismatch|not be consistent/i.test(message)) {
      throw new TlsSetupError(
        "--tls-key does not belong to the certificate in --tls-cert",
      );
    }
    if (
      error instanceof Deno.errors.InvalidData ||
      /certificate|key/i.test(message)
    ) {
      throw new TlsSetupError(
        `cannot use --tls-cert/--tls-key: ${message.split("\n")[0]}`,
      );
    }
    throw error;
  }
}
