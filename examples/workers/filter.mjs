// A filter for `mtaq worker --script examples/workers/filter.mjs` (README, "Consumer scripts").
//
// Every message of rabbitmq-inbox comes in as the JSON of reference §3; what this function returns
// goes to rabbitmq-outbox (null drops the message, a throw puts it on the failure queue).
//   - recipients in FILTER_DROP (comma-separated addresses or @domains; default @blocked.example)
//     are dropped;
//   - every other message gets the tag "filtered" and an X-Filtered header (a §4 `headers` edit,
//     applied by delivery).

const drop = (process.env.FILTER_DROP ?? '@blocked.example')
  .split(',')
  .map((entry) => entry.trim().toLowerCase())
  .filter(Boolean);

export default async function filter(message, context) {
  const recipient = String(message.recipient ?? '').toLowerCase();
  if (drop.some((entry) => (entry.startsWith('@') ? recipient.endsWith(entry) : recipient === entry))) {
    context.log.info({ recipient }, 'recipient on the drop list');
    return null;
  }
  const headers = message.headers ?? {};
  return {
    ...message,
    tags: [...(message.tags ?? []), 'filtered'],
    headers: { ...headers, append: { ...(headers.append ?? {}), 'X-Filtered': 'mtaq-worker' } },
  };
}
