// Reads an iTIP message (an invitation a mail carries) with ical.js, as a calendar app does before
// acting on it.
//
//   node icaljs_components.mjs < invite.ics
//
// Prints one JSON object: {method, events: [{uid, rid, start, end, status, sequence, organizer,
// attendee, summary}]}; times as UTC ISO strings (the message's own VTIMEZONEs are used). Exits 2
// on a timed value in an unknown (so floating) zone.
import { readFileSync } from 'node:fs';
import ICAL from 'ical.js';

function fail(message) {
  process.stderr.write(`icaljs_components: ${message}\n`);
  process.exit(2);
}

function show(time) {
  if (!time) return null;
  if (time.isDate) return time.toString();
  if (time.zone === ICAL.Timezone.localTimezone) fail(`floating time ${time.toString()}`);
  return time.toJSDate().toISOString();
}

const calendar = new ICAL.Component(ICAL.parse(readFileSync(0, 'utf8')));
for (const zone of calendar.getAllSubcomponents('vtimezone')) ICAL.TimezoneService.register(zone);
const events = calendar.getAllSubcomponents('vevent').map((component) => {
  const event = new ICAL.Event(component);
  return {
    uid: event.uid,
    rid: show(component.getFirstPropertyValue('recurrence-id')),
    start: show(event.startDate),
    end: show(event.endDate),
    status: component.getFirstPropertyValue('status'),
    sequence: event.sequence,
    organizer: component.getFirstPropertyValue('organizer'),
    attendee: component.getFirstPropertyValue('attendee'),
    summary: event.summary,
    rrule: component.hasProperty('rrule') ? component.getFirstPropertyValue('rrule').toString() : null,
  };
});
console.log(JSON.stringify({ method: calendar.getFirstPropertyValue('method'), events }));
