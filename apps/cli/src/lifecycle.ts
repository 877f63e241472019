import type { Logger } from '@mtaq/log';

/** However a stop goes, the process is gone this long after the signal (the services stop by ~29 s). */
export const EXIT_DEADLINE_MS = 30_000;

/**
 * Stops the process's services on the first SIGTERM/SIGINT and exits: 0 after a clean stop, 1 if
 * stopping failed or did not finish within {@link EXIT_DEADLINE_MS}. A second signal while stopping
 * is ignored; use SIGKILL to abandon work in flight.
 */
export function stopOnSignal(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.error({ afterMs: EXIT_DEADLINE_MS }, 'shutdown did not finish in time; exiting, unacked messages return to the queue');
      logger.flush();
      process.exit(1);
    }, EXIT_DEADLINE_MS).unref();
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
  // SIGHUP means "reopen log files, re-read the token file" (logrotate sends it). Those features add
  // their own listeners; this one only makes sure that a service with none of them configured is
  // not killed by the signal's default action.
  process.on('SIGHUP', () => logger.info({ signal: 'SIGHUP' }, 'SIGHUP: log files reopened and token file re-read where configured'));
}
