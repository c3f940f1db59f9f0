"""Attendance and self check-in for class sessions; residents' learning records and their exports."""

from datetime import date
from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from booking.api.deps import Caller, Now, Session
from booking.api.problems import on_domain_error
from booking.schemas.learning import (
    AttendanceMark,
    CheckedIn,
    CheckIn,
    MyLearningRecord,
    SessionCodePublic,
    SessionRoll,
)
from booking.services import attendance, learning_records

CSV = "text/csv"  # Litestar adds "; charset=utf-8"
EXPORT_NAME = "学习成果登记表.csv"


class AttendanceController(Controller):
    path = "/classes/{class_id:int}"
    tags = ["attendance"]

    @get("/sessions/{session_date:date}/attendance")
    async def get_roll(
        self, session: Session, actor: Caller, class_id: FromPath[int], session_date: FromPath[date]
    ) -> SessionRoll:
        """The session's roll, with names: for the class's teacher and its organisation's staff."""
        return await attendance.roll(session, actor, class_id, session_date)

    @put("/sessions/{session_date:date}/attendance")
    async def take_roll(
        self,
        session: Session,
        actor: Caller,
        now: Now,
        class_id: FromPath[int],
        session_date: FromPath[date],
        data: JSONBody[list[AttendanceMark]],
    ) -> SessionRoll:
        """Record or correct attendance (date: the session's local date), from the session's start
        until 7 days after its end; lines left out of the body stay as they are."""
        return await attendance.take_roll(session, actor, class_id, session_date, data, now=now)

    @get("/sessions/{session_date:date}/code")
    async def session_code(
        self, session: Session, actor: Caller, now: Now, class_id: FromPath[int], session_date: FromPath[date]
    ) -> SessionCodePublic:
        """The session's six-digit check-in code for the teacher to show (made once, then the same)."""
        return await attendance.session_code(session, actor, class_id, session_date, now=now)

    @post("/check-in", status_code=200)
    async def check_in(
        self,
        request: Request,
        session: Session,
        actor: Caller,
        now: Now,
        class_id: FromPath[int],
        data: JSONBody[CheckIn],
    ) -> Response[CheckedIn]:
        """An enrolled resident checks in with the code, from 15 minutes before the session's start
        to 30 minutes after it; five wrong codes for a session and check-in is closed to them."""
        outcome = await attendance.check_in(session, actor, class_id, data.code, now=now)
        if outcome.error is not None:  # answered, not raised: the failed attempt must be kept
            return on_domain_error(request, outcome.error)
        return Response(outcome.checked_in)


class MyLearningController(Controller):
    path = "/me"
    tags = ["learning records"]

    @get("/learning-record")
    async def my_learning_record(
        self, session: Session, actor: Caller, now: Now, resident_id: FromQuery[str | None] = None
    ) -> MyLearningRecord:
        """Your classes with planned and attended hours, attendance rate, completion, credits and points
        (``resident_id``: a resident you act for, as their agent or at a counter)."""
        return await learning_records.my_learning_record(session, actor, now=now, resident_public_id=resident_id)


class LearningRecordController(Controller):
    path = "/learning-records"
    tags = ["learning records"]

    @get("/export.csv", media_type=CSV)
    async def export_csv(
        self,
        session: Session,
        actor: Caller,
        now: Now,
        region_id: FromQuery[int | None] = None,
        organisation_id: FromQuery[int | None] = None,
        term_start: FromQuery[date | None] = None,
    ) -> Response[bytes]:
        """学习成果登记表 for the credit bank's batch import: one row per completed class, of a
        region's organisations (its district administrators) or of one organisation (its managers)."""
        body = await learning_records.export_csv(
            session, actor, region_id=region_id, organisation_id=organisation_id, term_start=term_start, now=now
        )
        disposition = f"attachment; filename*=UTF-8''{quote(EXPORT_NAME)}"
        return Response(body, media_type=CSV, headers={"Content-Disposition": disposition})

    @get("/{resident_id:str}/{class_id:int}/badge.json")
    async def badge(
        self, session: Session, actor: Caller, now: Now, resident_id: FromPath[str], class_id: FromPath[int]
    ) -> dict[str, Any]:
        """The Open Badges 3.0 credential (unsigned) of a completed class, by the learner's public id."""
        return await learning_records.badge(session, actor, resident_id, class_id, now=now)
