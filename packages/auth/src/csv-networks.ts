import { CidrList } from '@mtaq/net';
import { type Logger, silentLogger } from '@mtaq/log';
import { AuthConfigError } from './backend.js';
import { checkColumnIndex, dataRecords } from './csv.js';
import { Provisioner, type ProvisioningSource } from './provisioning.js';

export interface CsvNetworksOptions extends ProvisioningSource {
  /** 0-based column holding an address or CIDR range (several may be separated by `;`). */
  column: number;
  header: boolean;
}

/**
 * Trusted networks provisioned like the concentrator's trustedNetworks: one address or range per
 * record in the given column; records with an empty network are skipped. Until start() has
 * succeeded the list is empty, so nothing is trusted by accident.
 */
export class CsvNetworks {
  readonly #provisioner: Provisioner<CidrList>;
  readonly #logger: Logger;
  #ranges: CidrList = CidrList.empty;

  constructor(options: CsvNetworksOptions) {
    checkColumnIndex(options.column, 'network');
    this.#logger = options.logger ?? silentLogger;
    this.#provisioner = new Provisioner(
      'CSV trusted networks',
      options,
      (text, label) => parseCsvNetworks(text, label, options.column, options.header),
      (ranges) => {
        this.#ranges = ranges;
        this.#logger.info({ source: this.#provisioner.label, networks: ranges.size }, 'CSV trusted networks loaded');
      },
    );
  }

  get ranges(): CidrList {
    return this.#ranges;
  }

  /** First load; @throws AuthConfigError naming the source and line. */
  start(): Promise<void> {
    return this.#provisioner.start();
  }

  /** Loads again now; false when that failed and the previous list stays. */
  reload(): Promise<boolean> {
    return this.#provisioner.reload();
  }

  async close(): Promise<void> {
    this.#provisioner.stop();
  }
}

/** @throws AuthConfigError naming `label` and the line. */
export function parseCsvNetworks(text: string, label: string, column: number, header: boolean): CidrList {
  const entries: string[] = [];
  for (const record of dataRecords(text, label, header)) {
    const value = (record.fields[column] ?? '').trim();
    if (value === '') continue;
    try {
      entries.push(...CidrList.parse(value).entries);
    } catch (error) {
      throw new AuthConfigError(`${label} line ${record.line}: ${(error as Error).message}`);
    }
  }
  return CidrList.parse(entries.join(';'));
}
