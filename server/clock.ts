/** A source of the current time, injected so that tests can move time instead of sleeping. */
export interface Clock {
  now(): Date;
}

/** The system clock. */
export const systemClock: Clock = { now: () => new Date() };
