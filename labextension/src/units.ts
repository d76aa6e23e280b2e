/** go-units HumanDuration: "Less than a second", "3 minutes", "About an hour", "2 days"... */
export function humanDuration(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 1) {
    return 'Less than a second';
  }
  if (s === 1) {
    return '1 second';
  }
  if (s < 60) {
    return `${s} seconds`;
  }
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) {
    return 'About a minute';
  }
  if (minutes < 60) {
    return `${minutes} minutes`;
  }
  const hours = Math.round(seconds / 3600);
  if (hours === 1) {
    return 'About an hour';
  }
  if (hours < 48) {
    return `${hours} hours`;
  }
  if (hours < 24 * 7 * 2) {
    return `${Math.floor(hours / 24)} days`;
  }
  if (hours < 24 * 30 * 2) {
    return `${Math.floor(hours / 24 / 7)} weeks`;
  }
  if (hours < 24 * 365 * 2) {
    return `${Math.floor(hours / 24 / 30)} months`;
  }
  return `${Math.floor(hours / 24 / 365)} years`;
}

/** Sizes the way docker prints them (go-units HumanSizeWithPrecision: decimal units). */
export function humanSize(bytes: number, precision = 3): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${Number(value.toPrecision(precision))}${units[unit]}`;
}
