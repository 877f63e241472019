/**
 * @mtaq/envelope: the JSON documents exchanged over the queues (schemas, types, runtime validators),
 * plus the MIME-side helpers every injection path needs to build them.
 */

export * from './types.js';
export { formatTime, isTime, parseTime, tryParseTime, type Time } from './time.js';
export { parseIncoming, parseOutgoing, parseResultEntry, parseResultMessage } from './validate.js';
export { IncomingSchema, SmtpIncomingSchema } from './schema/incoming.js';
export { OutgoingSchema } from './schema/outgoing.js';
export { ResultEntrySchema, ResultMessageSchema } from './schema/result.js';
export { jsonSchemas, schemaFileText } from './json-schema.js';
export { decodeMessage, encodeMessage, type EncodedMessage } from './codec.js';
export { extractMqHeaders, type MqExtraction, type MqHeaderProperties } from './x-mq-headers.js';
export { envelopeFromMime, recipientsFromMime } from './mime-envelope.js';
export { firstAddress, isValidAddress, isValidMailbox, parseAddressList } from './address.js';
export { createMessageIdGenerator } from './message-id.js';
export { receivedHeader, receivedProtocol, rfc5322Date, type ReceivedInfo, type ReceivedProtocol } from './received.js';
export { dropHeaderFields, headerBlock, readHeaderFields, type HeaderField } from './header-block.js';
export { decodeHeaderValue } from './header-words.js';
