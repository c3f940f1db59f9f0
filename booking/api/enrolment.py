"""Residents' profiles and agents, classes' enrolment policies, applications and draws."""

from litestar import Controller, Request, delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from booking.api.deps import BearerToken, Caller, Now, Session
from booking.schemas.enrolment import (
    AgentCreate,
    AgentPublic,
    ApplicationCreate,
    ApplicationPublic,
    CounterRegistration,
    DrawPublic,
    OutcomeDecision,
    PolicyPublic,
    PolicyWrite,
    ResidentProfile,
    ResidentPublic,
    RosterEntry,
)
from booking.services import draws, enrolment, enrolment_policies, residents

ResidentParam = FromQuery[str | None]


class ResidentController(Controller):
    path = "/"
    tags = ["residents"]

    @get("/me/resident")
    async def get_own_profile(self, session: Session, actor: Caller) -> ResidentPublic:
        """Your learner profile (403 ``not_a_resident`` until you have one)."""
        return residents.public(await residents.own_profile(session, actor))

    @put("/me/resident")
    async def put_own_profile(
        self, session: Session, actor: Caller, now: Now, data: JSONBody[ResidentProfile]
    ) -> ResidentPublic:
        """Create or replace your learner profile (resident accounts only). An ID number is kept
        only as a salted hash and its last four digits."""
        return residents.public(await residents.put_own_profile(session, actor, data, now=now))

    @post("/residents")
    async def register_resident(
        self, session: Session, actor: Caller, now: Now, data: JSONBody[CounterRegistration]
    ) -> ResidentPublic:
        """Counter staff register a resident: an account (a password is optional) and its profile."""
        return residents.public(await residents.register_at_counter(session, actor, data, now=now))

    @get("/me/agents")
    async def list_agents(self, session: Session, actor: Caller) -> list[AgentPublic]:
        """The accounts you let act for you (apply, withdraw)."""
        return await residents.list_agents(session, actor)

    @post("/me/agents")
    async def add_agent(self, session: Session, actor: Caller, now: Now, data: JSONBody[AgentCreate]) -> AgentPublic:
        return await residents.add_agent(session, actor, data.username, now=now)

    @delete("/me/agents/{agent_user_id:int}")
    async def remove_agent(self, session: Session, actor: Caller, agent_user_id: FromPath[int]) -> None:
        await residents.remove_agent(session, actor, agent_user_id)

    @get("/me/applications")
    async def my_applications(
        self, session: Session, actor: Caller, resident_id: ResidentParam = None
    ) -> list[ApplicationPublic]:
        """Your applications of every term, with waitlist positions (``resident_id``: a resident you
        act for, as their agent or at a counter)."""
        return await enrolment.my_applications(session, actor, resident_id)


class EnrolmentController(Controller):
    path = "/classes/{class_id:int}"
    tags = ["enrolment"]

    @get("/enrolment-policy")
    async def get_policy(self, session: Session, now: Now, class_id: FromPath[int]) -> PolicyPublic:
        """How the class gives out seats: window, seats left, tiers and the lottery's commitment."""
        return await enrolment_policies.get_policy(session, class_id, now=now)

    @put("/enrolment-policy")
    async def put_policy(
        self, session: Session, actor: Caller, now: Now, class_id: FromPath[int], data: JSONBody[PolicyWrite]
    ) -> PolicyPublic:
        """Set the class's enrolment (its organisation's staff)."""
        return await enrolment_policies.put_policy(session, actor, class_id, data, now=now)

    @post("/applications")
    async def apply(
        self, request: Request, token: BearerToken, now: Now, class_id: FromPath[int], data: JSONBody[ApplicationCreate]
    ) -> ApplicationPublic:
        """Apply (yourself; an agent or the counter name the resident). First-come classes enrol at
        once or answer ``class_full``; lottery classes wait for the draw."""
        state = request.app.state
        return await enrolment.apply_with_token(
            state.write_sessions, state.driver_pool, token, class_id, data.resident_id, now=now
        )

    @get("/applications")
    async def get_application(
        self, session: Session, actor: Caller, class_id: FromPath[int], resident_id: ResidentParam = None
    ) -> ApplicationPublic:
        """Your application to the class (``resident_id``: the resident you act for)."""
        return await enrolment.application_of(session, actor, class_id, resident_id)

    @delete("/applications", status_code=200)
    async def withdraw(
        self, session: Session, actor: Caller, now: Now, class_id: FromPath[int], resident_id: ResidentParam = None
    ) -> ApplicationPublic:
        """Withdraw; a seat you give up goes to the first on the waitlist."""
        return await enrolment.withdraw(session, actor, class_id, resident_id, now=now)

    @get("/roster")
    async def roster(self, session: Session, actor: Caller, class_id: FromPath[int]) -> list[RosterEntry]:
        """Every application with names (the class's staff)."""
        return await enrolment.roster(session, actor, class_id)

    @get("/draw")
    async def get_draw(self, session: Session, class_id: FromPath[int]) -> DrawPublic:
        """The lottery as published: the commitment; after the draw the seed and the ranked
        application ids (no names), so anyone can re-compute it."""
        return await draws.published_draw(session, class_id)

    @post("/draw", status_code=200)
    async def run_draw(self, session: Session, actor: Caller, now: Now, class_id: FromPath[int]) -> DrawPublic:
        """Draw now rather than at the next sweep (staff; only after the window closed; once)."""
        return await draws.staff_draw(session, actor, class_id, now=now)

    @post("/outcome", status_code=200)
    async def decide(
        self, session: Session, actor: Caller, now: Now, class_id: FromPath[int], data: JSONBody[OutcomeDecision]
    ) -> PolicyPublic:
        """Keep or cancel a class that ended below its minimum of learners (staff)."""
        return await enrolment_policies.decide(session, actor, class_id, data.decision, now=now)
