import type { Draft } from './build.js';
import { ConfigError, type ConfigWarning, type Origin, where } from './errors.js';
import type { ConfigKey, ValueOf } from './schema.js';

/** Checks that involve more than one key; each problem names the key and where its value was set. */
export function validate(draft: Draft, errors: ConfigError[], warnings: ConfigWarning[]): void {
  const get = <K extends ConfigKey>(key: K): ValueOf<K> => draft.values.get(key) as ValueOf<K>;
  const origin = (key: ConfigKey): Origin => draft.origins.get(key) as Origin;
  const fail = (key: ConfigKey, expected: string, problem: string): void => {
    errors.push(new ConfigError({ origin: origin(key), key, expected, message: `${where(origin(key), key)}: ${problem}` }));
  };
  const warn = (key: ConfigKey, problem: string): void => {
    const o = origin(key);
    warnings.push({ message: `${where(o, key)}: ${problem}`, file: o.file, line: o.line, key });
  };

  const certificate = get('smtp-certificate');
  const tlsKey = get('smtp-key');
  if (get('smtp-secure-port').length > 0 && (certificate === '' || tlsKey === '')) {
    const missing = [certificate === '' ? 'smtp-certificate' : '', tlsKey === '' ? 'smtp-key' : ''].filter(Boolean);
    fail('smtp-secure-port', 'smtp-certificate and smtp-key to be set', `needs smtp-certificate and smtp-key for TLS from the first byte, but ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set`);
  } else if (certificate !== '' && tlsKey === '') {
    fail('smtp-certificate', 'smtp-key to be set as well', 'needs smtp-key (the private key of the certificate), which is not set');
  } else if (certificate === '' && tlsKey !== '') {
    fail('smtp-key', 'smtp-certificate to be set as well', 'needs smtp-certificate, which is not set');
  }

  const plain = get('smtp-port');
  const clash = get('smtp-secure-port').filter((p) => plain.includes(p));
  if (clash.length > 0) {
    fail('smtp-secure-port', 'ports not already in smtp-port', `port ${clash.join(', ')} is also in smtp-port; a port can only be plain or secure`);
  }

  if (get('smtp-username') !== '' && get('smtp-password') === '') {
    fail('smtp-username', 'smtp-password to be set as well', 'needs smtp-password, which is not set');
  } else if (get('smtp-username') === '' && get('smtp-password') !== '') {
    fail('smtp-password', 'smtp-username to be set as well', 'needs smtp-username, which is not set');
  }
  if (get('smtp-auth') !== '' && get('smtp-username') !== '') {
    warn('smtp-username', 'ignored because smtp-auth is set');
  }
  if ((get('smtp-auth') !== '' || get('smtp-username') !== '') && certificate === '') {
    warn(get('smtp-auth') !== '' ? 'smtp-auth' : 'smtp-username', 'clients can only authenticate after STARTTLS, and smtp-certificate is not set');
  }

  if (get('rabbitmq-quorum')) {
    if (!get('rabbitmq-durable')) {
      fail('rabbitmq-durable', 'true when rabbitmq-quorum is on', 'must be true: quorum queues are always durable');
    }
    if (get('rabbitmq-lazy')) warn('rabbitmq-lazy', 'has no effect on quorum queues');
    // the reduction is a channel-wide prefetch, which RabbitMQ refuses on a quorum queue's channel
    if (origin('rabbitmq-minqos').file !== 'default') warn('rabbitmq-minqos', 'has no effect on quorum queues: the prefetch stays at rabbitmq-qos');
    // an error, not a warning: the priorities would silently stop working (RabbitMQ 3.10 refuses
    // x-max-priority on a quorum queue, so mtaq would have to drop it from the declarations)
    if (get('rabbitmq-maxpriority') > 0) {
      fail('rabbitmq-maxpriority', '0 when rabbitmq-quorum is on', 'must be 0 (or unset) when rabbitmq-quorum is on: quorum queues have no message priorities');
    }
  }
  if (get('rabbitmq-qos') > 0 && get('rabbitmq-minqos') > get('rabbitmq-qos')) {
    // Point at whichever of the two the operator actually wrote.
    if (origin('rabbitmq-minqos').file === 'default') {
      warn('rabbitmq-qos', `is below rabbitmq-minqos (${get('rabbitmq-minqos')}); prefetch will never be reduced under load`);
    } else {
      warn('rabbitmq-minqos', `is above rabbitmq-qos (${get('rabbitmq-qos')}); prefetch will never be reduced under load`);
    }
  }

  // A result queue that delivery consumes from would send every message again and again. Bounces
  // are new messages and may go to the outbox (rabbitmq-dsn: outbox is a documented setup).
  const outbox = get('rabbitmq-outbox');
  for (const key of ['rabbitmq-results', 'rabbitmq-success', 'rabbitmq-failure', 'rabbitmq-retry'] as const) {
    const queue = get(key);
    if (queue !== '' && outbox !== '' && (queue === outbox || queue.startsWith(`${outbox}.delay.`) || queue.startsWith(`${outbox}.park.`))) {
      fail(key, 'a queue delivery does not consume from', `"${queue}" is delivery's own ${queue === outbox ? 'outbox' : 'delay or park queue'}: every result would be delivered again, in a loop`);
    }
  }

  // a refusal needs the verdict it refuses on
  const checks = get('smtp-check');
  const unchecked = get('smtp-check-reject').filter((c) => !checks.includes(c));
  if (unchecked.length > 0) warn('smtp-check-reject', `has no effect for ${unchecked.join(', ')}: not in smtp-check`);
  if (get('smtp-check-reject-score') !== undefined && !get('smtp-check-reject').includes('spam')) {
    warn('smtp-check-reject-score', 'has no effect: smtp-check-reject does not list spam');
  }
  if (get('smtp-auth-results').length > 0 && !checks.some((c) => c !== 'spam')) {
    warn('smtp-auth-results', 'adds only "none": smtp-check runs none of spf, dkim, dmarc, arc');
  }

  const total = get('smtp-connections');
  for (const key of ['smtp-connections-in', 'smtp-connections-out'] as const) {
    if (total > 0 && get(key) > total) warn(key, `is above smtp-connections (${total}) and can never be reached`);
  }
}
