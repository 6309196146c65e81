// How amounts, times and counts are shown.

const money = new Intl.NumberFormat('en-US', {style: 'currency', currency: 'USD'});
const dateTime = new Intl.DateTimeFormat(undefined, {dateStyle: 'medium', timeStyle: 'short'});
const timeOfDay = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});

/** 1999 → "$19.99". */
export function formatMoney(cents) {
  return money.format((Number(cents) || 0) / 100);
}

/** An ISO-8601 time as a local date and time; '' when absent. */
export function formatDateTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateTime.format(date);
}

/** An ISO-8601 time as a local "HH:MM:SS.mmm". */
export function formatTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso || '';
  return `${timeOfDay.format(date)}.${String(date.getMilliseconds()).padStart(3, '0')}`;
}

/** Milliseconds as "850 ms", "1.2 s", "3 min 5 s". */
export function formatDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** (2, 'book') → "2 books". */
export function plural(count, singular, pluralForm = `${singular}s`) {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}

/** The first 8 characters of an id, for tight places (the full id goes in a title). */
export function shortId(id) {
  return String(id || '').slice(0, 8);
}
