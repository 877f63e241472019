import { hashPassword, type PasswordScheme } from '@mtaq/auth';
import { createInterface } from 'node:readline';

const SCHEMES: readonly PasswordScheme[] = ['bcrypt', 'sha512-crypt', 'sha256-crypt', 'sha256', 'sha384', 'sha512'];

/**
 * `mtaq password [--hash SCHEME]`: reads a password (twice, unechoed, from a terminal; or the first
 * line of standard input) and prints its hash for `file://` or the CSV users.
 */
export async function passwordCommand(words: string[]): Promise<number> {
  const at = words.indexOf('--hash');
  const scheme = (at >= 0 ? words[at + 1] : 'bcrypt') as PasswordScheme;
  if (!SCHEMES.includes(scheme)) {
    process.stderr.write(`mtaq password: --hash must be one of ${SCHEMES.join(', ')}\n`);
    return 2;
  }
  let password: string;
  if (process.stdin.isTTY) {
    password = await ask('Enter password: ');
    if ((await ask('Re-enter password: ')) !== password) {
      process.stderr.write('mtaq password: the passwords differ\n');
      return 1;
    }
  } else {
    password = (await readStdin()).split(/\r?\n/)[0] ?? '';
  }
  if (!password) {
    process.stderr.write('mtaq password: empty password\n');
    return 1;
  }
  process.stdout.write(`${await hashPassword(password, scheme)}\n`);
  return 0;
}

function ask(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    // echo nothing but the prompt: the password must not appear on screen
    (rl as unknown as { _writeToOutput(s: string): void })._writeToOutput = (s: string) => {
      if (s.includes(prompt)) process.stderr.write(prompt);
    };
    rl.question(prompt, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
  });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
