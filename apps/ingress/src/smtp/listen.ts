import type { AddressInfo } from 'node:net';
import type { MtaqSMTPServer } from './server.js';

export interface Listener {
  readonly address: string;
  readonly port: number;
  readonly secure: boolean;
}

/** Binds one server; rejects with the address and the reason when it cannot. */
export function listenOn(server: MtaqSMTPServer, port: number, host: string | undefined, secure: boolean): Promise<Listener> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new Error(`cannot listen on ${host ?? '*'}:${port}: ${err.code ?? err.message}`));
    };
    server.server.once('error', onError);
    server.server.listen(port, host, () => {
      server.server.off('error', onError);
      const address = server.server.address() as AddressInfo;
      resolve({ address: address.address, port: address.port, secure });
    });
  });
}
