// A Node SMTP sink (smtp-server) that accepts and discards, for comparison with Postfix's smtp-sink.
//   node bench/delivery/node-sink.mjs PORT
import { SMTPServer } from 'smtp-server';

const server = new SMTPServer({
  logger: false,
  disableReverseLookup: true,
  hideSTARTTLS: true,
  authOptional: true,
  disabledCommands: ['AUTH'],
  onData(stream, _session, callback) {
    stream.resume();
    stream.on('end', () => callback(null, 'Ok'));
  },
});
server.listen(Number(process.argv[2]), '127.0.0.1');
