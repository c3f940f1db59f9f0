"""Booking policies of venues and spaces: public to read, set by the place's managers."""

from litestar import Controller, get, put
from litestar.params import FromPath, JSONBody

from booking.api.deps import Caller, Session
from booking.schemas.policies import PolicyPublic, PolicyRules
from booking.services import policies


class PolicyController(Controller):
    tags = ["policies"]

    @get("/venues/{venue_id:int}/policy")
    async def get_venue_policy(self, session: Session, venue_id: FromPath[int]) -> PolicyPublic:
        """The venue's rules, which its spaces inherit field by field unless they set their own."""
        return await policies.get_policy(session, venue_id=venue_id)

    @put("/venues/{venue_id:int}/policy")
    async def put_venue_policy(
        self, session: Session, actor: Caller, venue_id: FromPath[int], data: JSONBody[PolicyRules]
    ) -> PolicyPublic:
        """Replace the venue's rules; a rule left out or null is unset."""
        return await policies.put_policy(session, actor, venue_id=venue_id, rules=data)

    @get("/spaces/{space_id:int}/policy")
    async def get_space_policy(self, session: Session, space_id: FromPath[int]) -> PolicyPublic:
        """The space's own rules, and the rules that apply once inheritance is resolved."""
        return await policies.get_policy(session, space_id=space_id)

    @put("/spaces/{space_id:int}/policy")
    async def put_space_policy(
        self, session: Session, actor: Caller, space_id: FromPath[int], data: JSONBody[PolicyRules]
    ) -> PolicyPublic:
        """Replace the space's own rules; a rule left out or null is inherited from the spaces it is part
        of and the venue."""
        return await policies.put_policy(session, actor, space_id=space_id, rules=data)
