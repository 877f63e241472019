/**
 * Resolves after `ms`, or earlier when the `wake` function handed to `register` is called; rejects
 * with the signal's reason on abort. `register` returns its own undo.
 */
export function sleep(ms: number, signal: AbortSignal | undefined, register: (wake: () => void) => () => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let unregister: () => void = () => undefined;
    const finish = (): void => {
      clearTimeout(timer);
      unregister();
      signal?.removeEventListener('abort', abort);
    };
    const wake = (): void => {
      finish();
      resolve();
    };
    const abort = (): void => {
      finish();
      reject(signal?.reason);
    };
    const timer = setTimeout(wake, ms);
    unregister = register(wake);
    signal?.addEventListener('abort', abort, { once: true });
  });
}
