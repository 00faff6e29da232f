/** A setting (environment variable or flag) that would make the process misbehave. */
export class SettingError extends Error {
  override name = 'SettingError'
}

/** `raw` as an integer from `min` to `max`; a {@link SettingError} naming `name` otherwise. */
export function parseInteger(name: string, raw: string, min: number, max: number): number {
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN
  if (!(value >= min && value <= max)) {
    throw new SettingError(`${name} must be an integer from ${min} to ${max} (got "${raw}")`)
  }
  return value
}
