import { mkdir, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * The quick-start "upstream": one .eml file per message in a folder, so a pipeline on one machine
 * delivers without anything leaving it. Files are written under a temporary name, synced and
 * renamed, so a reader never sees half a message; the name is the message id, so a redelivery
 * after a crash replaces the file instead of duplicating it.
 */
export async function writeToFolder(
  folder: string,
  message: { readonly id: string | undefined; readonly envelope: string; readonly recipient: string; readonly mime: Buffer },
): Promise<string> {
  await mkdir(folder, { recursive: true });
  const name = `${safe(message.id) || `${Date.now()}-${randomBytes(6).toString('hex')}`}.eml`;
  const path = join(folder, name);
  const temporary = join(folder, `.${name}.${process.pid}.tmp`);
  // what a local delivery agent records: who sent it (Return-Path) and for whom (Delivered-To)
  const trace = Buffer.from(`Return-Path: <${oneLine(message.envelope)}>\r\nDelivered-To: ${oneLine(message.recipient)}\r\n`);
  const file = await open(temporary, 'w', 0o640);
  try {
    await file.writev([trace, message.mime]);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temporary, path);
  return path;
}

function safe(id: string | undefined): string {
  return (id ?? '').replace(/[^A-Za-z0-9._@-]/g, '_').slice(0, 200);
}

function oneLine(value: string): string {
  return value.replace(/[\r\n]/g, '');
}
