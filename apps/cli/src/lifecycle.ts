import type { Logger } from '@mtaq/log';

/**
 * Stops the process's services on the first SIGTERM/SIGINT and exits: 0 after a clean stop, 1 if
 * stopping failed. A second signal while stopping is ignored; use SIGKILL to abandon work in flight.
 */
export function stopOnSignal(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    stop().then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err: (err as Error).message }, 'unclean shutdown');
        logger.flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
