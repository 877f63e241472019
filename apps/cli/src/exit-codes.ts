/** Exit statuses from sysexits.h, so scripts and service managers can tell failures apart. */

/** Bad usage. mtaq has always used 2 here (as shells do), not sysexits' 64. */
export const EX_USAGE = 2;
/** The input is not usable (`mtaq inject`: bad JSON, no recipients). */
export const EX_DATAERR = 65;
/** What was asked for does not exist (a queue to peek at). */
export const EX_NOINPUT = 66;
/** A service mtaq needs (RabbitMQ) cannot be reached. */
export const EX_UNAVAILABLE = 69;
/** The configuration is wrong: a bad value, a refused broker login, warnings under config-strict. */
export const EX_CONFIG = 78;
/** Another instance holds the lock file: try again once it has stopped. */
export const EX_TEMPFAIL = 75;
