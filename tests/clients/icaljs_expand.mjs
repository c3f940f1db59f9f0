// Expands an iCalendar feed with ical.js (the engine inside Thunderbird) the way a client does.
//
//   node icaljs_expand.mjs WINDOW_START WINDOW_END < feed.ics
//
// WINDOW_START/END are ISO instants. Prints one JSON line per occurrence overlapping the window:
// {uid, rid, start, end, status, summary}; timed values as UTC ISO strings, all-day ones as
// YYYY-MM-DD. Exits 2 on what a strict client would refuse: an override without its master, a
// timed value in an unknown (so floating) zone.
import { readFileSync } from 'node:fs';
import ICAL from 'ical.js';

const MAX_OCCURRENCES = 100000;
const SLACK_MS = 31 * 24 * 3600 * 1000; // overrides may move a session up to a month after its slot

function fail(message) {
  process.stderr.write(`icaljs_expand: ${message}\n`);
  process.exit(2);
}

function show(time) {
  if (time.isDate) return time.toString();
  if (time.zone === ICAL.Timezone.localTimezone) fail(`floating time ${time.toString()}`);
  return time.toJSDate().toISOString();
}

const [windowStart, windowEnd] = process.argv.slice(2).map((text) => new Date(text));
if (!windowStart || !windowEnd || isNaN(windowStart) || isNaN(windowEnd)) fail('usage: icaljs_expand.mjs START END');

const calendar = new ICAL.Component(ICAL.parse(readFileSync(0, 'utf8')));
for (const zone of calendar.getAllSubcomponents('vtimezone')) ICAL.TimezoneService.register(zone);

// new ICAL.Event(master) would attach every RECURRENCE-ID component of the calendar, whatever its
// UID: group by UID and hand each master its own overrides.
const byUid = new Map();
for (const component of calendar.getAllSubcomponents('vevent')) {
  const uid = component.getFirstPropertyValue('uid');
  if (!byUid.has(uid)) byUid.set(uid, { masters: [], overrides: [] });
  const group = byUid.get(uid);
  (component.hasProperty('recurrence-id') ? group.overrides : group.masters).push(component);
}

function emit(uid, rid, item, start, end) {
  const startIso = show(start);
  const endIso = show(end);
  if (!start.isDate && (new Date(endIso) <= windowStart || new Date(startIso) >= windowEnd)) return;
  if (start.isDate && (endIso <= windowStart.toISOString().slice(0, 10) || startIso >= windowEnd.toISOString().slice(0, 10))) return;
  const status = item.component.getFirstPropertyValue('status');
  console.log(JSON.stringify({ uid, rid: rid ? show(rid) : null, start: startIso, end: endIso, status, summary: item.summary }));
}

for (const [uid, { masters, overrides }] of byUid) {
  if (masters.length !== 1) fail(`UID ${uid} has ${masters.length} master components`);
  const event = new ICAL.Event(masters[0], { exceptions: overrides, strictExceptions: true });
  if (!event.isRecurring()) {
    emit(uid, null, event, event.startDate, event.endDate);
    continue;
  }
  const iterator = event.iterator();
  for (let next, count = 0; (next = iterator.next()); count++) {
    if (count >= MAX_OCCURRENCES) fail(`UID ${uid} has more than ${MAX_OCCURRENCES} occurrences`);
    if (!next.isDate && next.toJSDate().getTime() >= windowEnd.getTime() + SLACK_MS) break;
    const details = event.getOccurrenceDetails(next);
    emit(uid, details.recurrenceId, details.item, details.startDate, details.endDate);
  }
}
