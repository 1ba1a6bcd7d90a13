/** The one source of time; tests inject a frozen or steppable clock. Epoch milliseconds. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();
