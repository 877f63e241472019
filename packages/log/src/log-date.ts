/** `{$date}` of the send and received logs: `YYYY-MM-DD HH:MM:SS` in UTC. */
export function formatLogDate(date: Date): string {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}
