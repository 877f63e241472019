// Stores local mail (rabbitmq-local, reference §3) into Maildirs: MAILDIR/<recipient>/{tmp,new,cur}.
// Each message is written to tmp/, flushed to disk, then renamed into new/ (a mail reader never
// sees half a file); the name is unique per delivery (time, input id, pid, counter, host). The
// input is acknowledged only after the rename, so a crash leaves it on the queue: at worst a
// message is stored twice, never lost.
//
//   IN=local MAILDIR=/var/mail/maildirs node examples/workers/maildir.mjs

import { mkdirSync, openSync, writeSync, fsyncSync, closeSync, renameSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { connect } from '@mtaq/sdk';

const input = process.env.IN ?? 'local';
const root = process.env.MAILDIR ?? 'var/maildirs';
const host = hostname().replace(/[/:]/g, '_');
let counter = 0;

const mtaq = await connect({ url: process.env.MTAQ_URL ?? 'amqp://guest:guest@localhost/' });

function mailbox(recipient) {
  // one Maildir per recipient address; nothing in the address may climb out of the root
  const name = String(recipient).toLowerCase().replace(/[^a-z0-9@._+-]/g, '_').replace(/^\.+/, '_');
  const dir = join(root, name || '_unknown');
  for (const sub of ['tmp', 'new', 'cur']) mkdirSync(join(dir, sub), { recursive: true });
  return dir;
}

await mtaq.consume(
  input,
  async (message) => {
    if (typeof message.mime !== 'string') throw new Error('no mime to store');
    const dir = mailbox(message.recipient);
    const id = String(message['message-id'] ?? 'x').replace(/[^A-Za-z0-9.-]/g, '_');
    const unique = `${Math.floor(Date.now() / 1000)}.M${Date.now() % 1000}_${id}P${process.pid}Q${++counter}.${host}`;
    const temporary = join(dir, 'tmp', unique);
    const fd = openSync(temporary, 'wx', 0o600);
    try {
      writeSync(fd, message.mime);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, join(dir, 'new', unique));
  },
  { prefetch: 20 },
);
console.log(JSON.stringify({ msg: 'consuming', input, maildir: root }));
process.once('SIGTERM', () => void mtaq.close().then(() => process.exit(0)));
