// The planning calendar: react-big-calendar (MIT) with its drag-and-drop addon, behind a narrow, serialisable API.
// Times travel as ISO 8601 instants and are shown in Europe/London. The server decides every drop: a drop moves
// the event here at once (marked pending) and the server's answer replaces the events; a refused drop therefore
// springs back when the server sends the unchanged events with a new ``revision``.
import React, { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Calendar, momentLocalizer } from "react-big-calendar";
import dragAndDrop from "react-big-calendar/lib/addons/dragAndDrop";
import moment from "moment-timezone";
import "react-big-calendar/lib/css/react-big-calendar.css";
import "react-big-calendar/lib/addons/dragAndDrop/styles.css";
import "./planning_calendar.css";

const ZONE = "Europe/London";
moment.tz.setDefault(ZONE);
moment.updateLocale("en", { week: { dow: 1, doy: 4 } });
const localizer = momentLocalizer(moment);
// The addon is CommonJS: imported from an ES module its default is either the function or its exports object.
const withDragAndDrop = typeof dragAndDrop === "function" ? dragAndDrop : dragAndDrop.default;
const DnDCalendar = withDragAndDrop(Calendar);
const VIEWS = ["day", "week", "month"];
const DAY_START = moment().startOf("day").hour(7).toDate();
const DAY_END = moment().startOf("day").hour(21).toDate();
const SCROLL_TO = moment().startOf("day").hour(8).toDate();

function toEvent(e) {
  return { ...e, start: new Date(e.start), end: new Date(e.end), pending: false };
}

function EventBox({ event }) {
  return (
    <span data-event-id={event.id} data-pending={event.pending ? "true" : "false"} title={event.tooltip || event.title}>
      {event.pending ? "Saving… " : ""}
      {event.title}
    </span>
  );
}

// Column headers of the day and week views: plain text (the library's own puts a columnheader role inside a
// button, outside any row).
function PlainHeader({ label }) {
  return <span>{label}</span>;
}

// The library marks the all-day strip of the week view as a row with no cells; take that role away when empty so
// assistive technology is not told about a table row that is not there.
function patchAria(root) {
  root.querySelectorAll('.rbc-time-header .rbc-row-content[role="row"]').forEach((el) => {
    if (!el.querySelector('[role="cell"],[role="gridcell"],[role="columnheader"],[role="rowheader"]')) {
      el.removeAttribute("role");
    }
  });
}

const COMPONENTS = {
  event: EventBox,
  day: { header: PlainHeader },
  week: { header: PlainHeader },
};

export function PlanningCalendar({
  events = [],
  resources = [],
  view = "week",
  date = "",
  revision = 0,
  height = 720,
  onEventMove,
  onSelectEvent,
  onRangeChange,
}) {
  const [shown, setShown] = useState(() => events.map(toEvent));
  const wrapper = useRef(null);
  useEffect(() => {
    const root = wrapper.current;
    if (!root) return undefined;
    patchAria(root);
    const observer = new MutationObserver(() => patchAria(root));
    observer.observe(root, { childList: true, subtree: true });
    return () => observer.disconnect();
  }, []);
  useEffect(() => {
    setShown(events.map(toEvent));
  }, [events, revision]);
  const current = useMemo(() => (date ? moment.tz(date, ZONE).toDate() : new Date()), [date]);

  const handleDrop = useCallback(
    ({ event, start, end, resourceId }) => {
      if (!event.draggable) return;
      setShown((prev) =>
        prev.map((e) =>
          e.id === event.id
            ? { ...e, start, end, resourceId: resourceId === undefined ? e.resourceId : resourceId, pending: true }
            : e,
        ),
      );
      if (onEventMove) {
        onEventMove({
          id: String(event.id),
          start: start.toISOString(),
          end: end.toISOString(),
          resourceId: resourceId === undefined || resourceId === null ? "" : String(resourceId),
        });
      }
    },
    [onEventMove],
  );

  const eventProps = useCallback(
    (event) => ({
      className: `atlas-cal-event atlas-cal-${event.kind || "session"}${event.unfilled ? " atlas-cal-unfilled" : ""}`,
      style: event.pending ? { opacity: 0.6, outline: "2px dashed currentColor" } : {},
    }),
    [],
  );

  const changeRange = useCallback(
    (d, v) => {
      if (onRangeChange) onRangeChange({ view: v || view, date: moment(d).tz(ZONE).format("YYYY-MM-DD") });
    },
    [onRangeChange, view],
  );

  return (
    <div className="atlas-planning-calendar" style={{ height }} ref={wrapper}>
      <DnDCalendar
        localizer={localizer}
        events={shown}
        resources={resources && resources.length ? resources : undefined}
        resourceIdAccessor="id"
        resourceTitleAccessor="title"
        view={view}
        views={VIEWS}
        date={current}
        onNavigate={(d, v) => changeRange(d, v)}
        onView={(v) => changeRange(current, v)}
        onEventDrop={handleDrop}
        draggableAccessor={(e) => !!e.draggable}
        resizable={false}
        selectable={false}
        popup
        step={30}
        timeslots={2}
        min={DAY_START}
        max={DAY_END}
        scrollToTime={SCROLL_TO}
        onSelectEvent={(e) => onSelectEvent && onSelectEvent(String(e.id))}
        onKeyPressEvent={(e, ev) => {
          if (onSelectEvent && ev && (ev.key === "Enter" || ev.key === " ")) onSelectEvent(String(e.id));
        }}
        eventPropGetter={eventProps}
        components={COMPONENTS}
        style={{ height: "100%" }}
      />
    </div>
  );
}
