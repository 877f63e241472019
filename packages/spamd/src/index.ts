export { SpamdClient, type SpamdClientOptions, type SpamdCheckOptions } from './client.js';
export { SpamdError, type SpamdErrorKind } from './errors.js';
export { parseReply, MAX_REPLY_BYTES, type SpamVerdict } from './reply.js';
