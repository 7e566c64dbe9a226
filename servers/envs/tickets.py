"""A customer-support helpdesk: agents and customers, tickets with a real lifecycle, comments and an audit log."""

from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from servers.environment import Environment, tool
from servers.errors import InvalidArgument, NotFound, PreconditionFailed
from servers.state import StateModel

__all__ = ["HistoryEvent", "Ticket", "TicketComment", "Tickets", "TicketsState", "TicketUser"]

Priority = Literal["low", "medium", "high", "urgent"]
Category = Literal["billing", "technical", "account", "shipping", "general"]
Status = Literal["open", "in_progress", "resolved", "closed"]
Action = Literal[
    "created", "edited", "assigned", "commented", "internal_note", "comment_deleted", "escalated", "resolved",
    "reopened", "closed",
]  # fmt: skip
PRIORITIES: tuple[str, ...] = ("low", "medium", "high", "urgent")
STATUSES: tuple[str, ...] = ("open", "in_progress", "resolved", "closed")


class TicketUser(StateModel):
    username: str = Field(description="Unique login name, e.g. 'maria.lopez'.")
    password: str = Field(description="Password checked at login.")
    full_name: str = Field(description="Name shown to other users.")
    email: str = Field(description="Contact e-mail address.")
    role: Literal["agent", "customer"] = Field(description="Agents work tickets; customers file them.")
    team: str | None = Field(default=None, description="Support team of an agent (e.g. 'Billing'); null for customers.")


class Ticket(StateModel):
    ticket_id: str = Field(description="Unique id, e.g. 'TKT-0042'.")
    title: str = Field(description="One-line summary of the problem.")
    description: str = Field(description="Full description of the problem.")
    priority: Priority = Field(description="low, medium, high or urgent.")
    category: Category = Field(description="billing, technical, account, shipping or general.")
    status: Status = Field(description="Lifecycle: open -> in_progress -> resolved -> closed (resolved may reopen).")
    customer: str = Field(description="Username of the customer who requested help.")
    owner: str | None = Field(default=None, description="Username of the assigned agent, or null when unassigned.")
    escalated: bool = Field(default=False, description="Whether the ticket has ever been escalated.")
    resolution: str | None = Field(default=None, description="Resolution note, set when resolved.")
    created_at: str = Field(description="ISO 8601 time the ticket was created.")
    updated_at: str = Field(description="ISO 8601 time of the last change.")
    resolved_at: str | None = Field(default=None, description="ISO 8601 time it was last resolved, or null.")
    closed_at: str | None = Field(default=None, description="ISO 8601 time it was closed, or null.")


class TicketComment(StateModel):
    comment_id: str = Field(description="Unique id, e.g. 'CMT-0007'.")
    ticket_id: str = Field(description="Ticket the comment belongs to.")
    author: str = Field(description="Username of the writer.")
    body: str = Field(description="Text of the comment.")
    internal: bool = Field(default=False, description="An internal note, visible to agents only.")
    created_at: str = Field(description="ISO 8601 time it was written.")


class HistoryEvent(StateModel):
    event_id: str = Field(description="Unique id, e.g. 'EVT-00012'.")
    ticket_id: str = Field(description="Ticket the event concerns.")
    actor: str = Field(description="Username of the user who acted.")
    action: Action = Field(description="What happened.")
    detail: str = Field(description="Human-readable detail of the change.")
    internal: bool = Field(default=False, description="Hidden from customers (internal notes).")
    at: str = Field(description="ISO 8601 time of the event.")


class TicketsState(StateModel):
    users: dict[str, TicketUser] = Field(description="Every agent and customer by username.")
    tickets: dict[str, Ticket] = Field(default_factory=dict, description="Every ticket by ticket id.")
    comments: dict[str, TicketComment] = Field(default_factory=dict, description="Every comment by comment id.")
    events: dict[str, HistoryEvent] = Field(default_factory=dict, description="Audit log entries by event id.")
    current_user: str | None = Field(default=None, description="Username logged in, or null when logged out.")
    next_ticket_number: int = Field(default=1, ge=1, description="Number used for the next ticket id.")
    next_comment_number: int = Field(default=1, ge=1, description="Number used for the next comment id.")
    next_event_number: int = Field(default=1, ge=1, description="Number used for the next audit event id.")
    clock: str = Field(default="2026-03-02T09:00:00", description="Helpdesk time; one minute passes per change.")

    @model_validator(mode="after")
    def _check_references(self) -> "TicketsState":
        for kind, table, key_field in [
            ("users", self.users, "username"), ("tickets", self.tickets, "ticket_id"),
            ("comments", self.comments, "comment_id"), ("events", self.events, "event_id"),
        ]:  # fmt: skip
            for key, item in table.items():
                if getattr(item, key_field) != key:
                    raise ValueError(f"{kind}: key {key!r} does not match {key_field} {getattr(item, key_field)!r}")
        for ticket_id, ticket in self.tickets.items():
            customer = self.users.get(ticket.customer)
            if customer is None or customer.role != "customer":
                raise ValueError(f"tickets: {ticket_id} customer {ticket.customer!r} is not a customer")
            if ticket.owner is not None and getattr(self.users.get(ticket.owner), "role", None) != "agent":
                raise ValueError(f"tickets: {ticket_id} owner {ticket.owner!r} is not an agent")
            if ticket.status != "open" and ticket.owner is None:
                raise ValueError(f"tickets: {ticket_id} is {ticket.status} but has no owner")
            if (ticket.status in ("resolved", "closed")) != (ticket.resolution is not None):
                raise ValueError(f"tickets: {ticket_id} must have a resolution exactly when resolved or closed")
            if (ticket.status == "closed") != (ticket.closed_at is not None):
                raise ValueError(f"tickets: {ticket_id} must have closed_at exactly when closed")
        for comment_id, comment in self.comments.items():
            if comment.ticket_id not in self.tickets or comment.author not in self.users:
                raise ValueError(f"comments: {comment_id} names an unknown ticket or author")
        for event_id, event in self.events.items():
            if event.ticket_id not in self.tickets or event.actor not in self.users:
                raise ValueError(f"events: {event_id} names an unknown ticket or actor")
        if self.current_user is not None and self.current_user not in self.users:
            raise ValueError(f"current_user: unknown user {self.current_user!r}")
        for table, counter in [
            (self.tickets, self.next_ticket_number), (self.comments, self.next_comment_number),
            (self.events, self.next_event_number),
        ]:  # fmt: skip
            numbers = [key.rsplit("-", 1)[-1] for key in table]
            if not all(number.isdigit() for number in numbers):
                raise ValueError("ids must look like 'TKT-0001', 'CMT-0001' or 'EVT-00001'")
            if any(int(number) >= counter for number in numbers):
                raise ValueError(f"next counter {counter} would reuse an existing id such as {max(table)!r}")
        datetime.fromisoformat(self.clock)
        return self


class LoginStatus(BaseModel):
    logged_in: bool = Field(description="Whether a user is logged in.")
    username: str | None = Field(description="The logged-in username, or null.")
    role: Literal["agent", "customer"] | None = Field(description="The logged-in user's role, or null.")


class TicketList(BaseModel):
    tickets: list[Ticket] = Field(description="Matching tickets, oldest first, at most `limit` of them.")
    ticket_ids: list[str] = Field(description="The same tickets' ids, in the same order.")
    total: int = Field(description="How many tickets matched before the limit was applied.")


class CommentList(BaseModel):
    ticket_id: str = Field(description="The ticket the comments belong to.")
    comments: list[TicketComment] = Field(description="Comments visible to you, oldest first.")
    comment_ids: list[str] = Field(description="The same comments' ids, in the same order.")


class DeletedComment(BaseModel):
    deleted_comment_id: str = Field(description="Id of the comment removed.")
    ticket_id: str = Field(description="Ticket it belonged to.")


class AgentInfo(BaseModel):
    username: str = Field(description="The agent's username.")
    full_name: str = Field(description="The agent's name.")
    team: str | None = Field(description="The agent's support team.")
    active_tickets: int = Field(description="Tickets the agent owns that are open or in progress.")


class AgentList(BaseModel):
    agents: list[AgentInfo] = Field(description="Every support agent, sorted by username.")
    agent_usernames: list[str] = Field(description="The same agents' usernames, in the same order.")


class TicketHistory(BaseModel):
    ticket_id: str = Field(description="The ticket the history belongs to.")
    events: list[HistoryEvent] = Field(description="Audit log entries visible to you, oldest first.")


class TicketStats(BaseModel):
    total: int = Field(description="Tickets visible to you.")
    by_status: dict[str, int] = Field(description="Count per status (open, in_progress, resolved, closed).")
    by_priority: dict[str, int] = Field(description="Count per priority among tickets not yet resolved or closed.")
    unassigned: int = Field(description="Open tickets with no owner.")
    escalated: int = Field(description="Escalated tickets not yet resolved or closed.")


TicketId = Annotated[str, Field(description="A ticket id such as 'TKT-0003' (see list_tickets).")]


class Tickets(Environment):
    name = "tickets"
    description = "A customer-support helpdesk: file, assign, discuss, escalate, resolve, reopen and close tickets."
    state_model = TicketsState
    state: TicketsState

    @tool(
        consumes={"username": "username"},
        provides=["tickets_logged_in"],
        asks=[
            "Open a helpdesk session as {username} with the password {password}.",
            "Get me onto the support desk as {username}, password {password}.",
            "Would you log me into the ticket system? I'm {username}, password {password}.",
            "I'm {username} on the helpdesk and my password is {password}, so log me in.",
            "Access the helpdesk for me as {username} using the password {password}.",
            "Here are my helpdesk details, username {username} and password {password}; log me in.",
            "First, log me in to the helpdesk as {username} with {password} as the password.",
            "Sign me into the ticket system, I'm {username} and my password is {password}.",
        ],
        answers=[
            "You're logged in to the helpdesk as {username} ({role}).",
            "Signed in as {username}, with {role} access.",
        ],
    )
    def tickets_log_in(
        self,
        username: Annotated[str, Field(description="Login name of an agent or customer, e.g. 'maria.lopez'.")],
        password: Annotated[str, Field(description="The user's password.")],
    ) -> LoginStatus:
        """Log in to the helpdesk as an agent or a customer. Needed before every ticket tool."""
        user = self.state.users.get(username)
        if user is None:
            raise NotFound(f"no helpdesk user named {username!r}")
        if self.state.current_user is not None:
            raise PreconditionFailed(f"already logged in as {self.state.current_user}; call tickets_log_out first")
        if password != user.password:
            raise InvalidArgument(f"wrong password for {username!r}")
        self.state.current_user = username
        return LoginStatus(logged_in=True, username=username, role=user.role)

    @tool(
        requires=["tickets_logged_in"],
        asks=[
            "Log me out of the helpdesk.",
            "Sign me out of the support desk.",
            "Can you end my helpdesk session?",
            "I'm done with tickets for today, so please log me out.",
            "Please close my session on the ticket system.",
        ],
        answers=["You're logged out of the helpdesk.", "Signed out; nobody is logged in to the ticket system now."],
    )
    def tickets_log_out(self) -> LoginStatus:
        """Log the current helpdesk user out."""
        self._me()
        self.state.current_user = None
        return LoginStatus(logged_in=False, username=None, role=None)

    @tool(
        read_only=True,
        produces={"username": "username"},
        asks=[
            "Am I logged in to the helpdesk?",
            "Who is signed in to the support desk right now?",
            "Is my helpdesk session still active?",
            "Which helpdesk account is active, and with what role?",
            "Tell me if anyone is logged in to the helpdesk.",
        ],
        answers=[
            "[You're logged in to the helpdesk as {username}, with the {role} "
            "role.]{logged_in?|Nobody is logged in to the helpdesk.}",
            "{logged_in?Yes, someone is signed in|No, nobody is signed in}[: {username}, as {role}].",
        ],
    )
    def tickets_get_login_status(self) -> LoginStatus:
        """Tell whether someone is logged in to the helpdesk, who, and with which role."""
        user = self.state.users.get(self.state.current_user or "")
        return LoginStatus(logged_in=user is not None, username=self.state.current_user, role=user and user.role)

    @tool(
        requires=["tickets_logged_in"],
        consumes={"customer_username": "username"},
        produces={"ticket_id": "ticket_id"},
        asks=[
            'Open a[ {priority}-priority][ {category}] ticket[ for {customer_username}] titled "{title}". '
            "{description}",
            'I have a problem to report[ on behalf of {customer_username}], "{title}"[, and it is {priority} '
            "priority]. Here is what is going on. {description}",
            'Can you file a[ {category}] support ticket called "{title}"[ for {customer_username}][ at {priority} '
            "priority]? Here is what happened. {description}",
            "Please log a new ticket[ for {customer_username}][ in the {category} category][ with {priority} "
            'priority], summary "{title}". {description}',
            '{description} Please file that as a[ {priority}-priority][ {category}] ticket titled "{title}"[ for '
            "{customer_username}].",
            "(Log|File|Raise|Create) a[ {priority}-priority][ {category}] ticket[ for {customer_username}] "
            '(called|titled|named) "{title}". {description}',
        ],
        answers=[
            'Ticket {ticket_id} is open: "{title}", {priority} priority, in {category}.',
            "Filed {ticket_id} for {customer} ({category}, {priority} priority); it is waiting for an agent.",
        ],
    )
    def create_ticket(
        self,
        title: Annotated[str, Field(description="One-line summary of the problem.", min_length=3, max_length=120)],
        description: Annotated[str, Field(description="Full description of the problem.", min_length=1)],
        priority: Annotated[Priority, Field(description="How urgent it is.")] = "medium",
        category: Annotated[Category, Field(description="Which area the problem is in.")] = "general",
        customer_username: Annotated[
            str | None, Field(description="Agents only: the customer the ticket is filed for. Customers leave it out.")
        ] = None,
    ) -> Ticket:
        """Open a new support ticket (status 'open', unassigned).

        A customer files for themselves; an agent files on behalf of a customer and must name them.
        """
        me = self._user()
        if me.role == "customer":
            if customer_username not in (None, me.username):
                raise InvalidArgument("customers can only file tickets for themselves; leave customer_username out")
            customer_username = me.username
        elif customer_username is None:
            raise InvalidArgument("an agent must give customer_username, the customer the ticket is for")
        customer = self.state.users.get(customer_username)
        if customer is None:
            raise NotFound(f"no helpdesk user named {customer_username!r}")
        if customer.role != "customer":
            raise InvalidArgument(f"{customer_username!r} is an agent, not a customer")
        ticket_id = f"TKT-{self.state.next_ticket_number:04d}"
        now = self._tick()
        self.state.tickets[ticket_id] = Ticket(
            ticket_id=ticket_id, title=title, description=description, priority=priority, category=category,
            status="open", customer=customer_username, created_at=now, updated_at=now,
        )  # fmt: skip
        self.state.next_ticket_number += 1
        self._log(ticket_id, "created", f"{category} ticket created with {priority} priority")
        return self.state.tickets[ticket_id].model_copy()

    @tool(
        read_only=True,
        requires=["tickets_logged_in"],
        consumes={"ticket_id": "ticket_id"},
        produces={"customer": "username", "owner": "agent_username"},
        asks=[
            "What's the status of {ticket_id}?",
            "Fetch {ticket_id} for me.",
            "Could you bring up the details of {ticket_id}?",
            "I need everything we have on {ticket_id}.",
            "Where does {ticket_id} stand?",
        ],
        answers=[
            'Ticket {ticket_id} ("{title}") is {status} with {priority} priority[, handled by {owner}].',
            "The request from {customer}, {ticket_id}, is {status}[ and owned by {owner}].[ Resolution on record: "
            "{resolution}]",
        ],
    )
    def get_ticket(self, ticket_id: TicketId) -> Ticket:
        """Show one ticket with all its fields. Customers can only see their own tickets."""
        return self._ticket(ticket_id).model_copy()

    @tool(
        read_only=True,
        requires=["tickets_logged_in"],
        consumes={"owner": "agent_username", "customer": "username"},
        produces={"ticket_ids": "ticket_id"},
        asks=[
            "Show me the[ {status}][ {priority}-priority][ {category}] tickets[ assigned to {owner}][ from "
            "{customer}][{unassigned_only?, only unassigned ones|}][, at most {limit}].",
            "Which[ {status}] tickets[ from {customer}] are there[ in {category}][ with {priority} priority][ for "
            "{owner}][{unassigned_only? that nobody has picked up yet|}]?[ List up to {limit}.]",
            "Could you list the[ {priority}-priority][ {status}] tickets[ about "
            "{category}][{unassigned_only? that are still unassigned|}][ owned by {owner}][ requested by "
            "{customer}][, no more than {limit}]?",
            "I need a list of[ {status}] tickets[ in the {category} category][ at {priority} priority][ for the "
            "customer {customer}][ that {owner} is working on][{unassigned_only? with no owner yet|}][; {limit} is "
            "plenty].",
            "Pull up[ the first {limit}] [{status} ]tickets[ filed by {customer}][ with {priority} priority][ in "
            "{category}][ handled by {owner}][{unassigned_only?, unassigned only|}].",
        ],
        answers=[
            "Number of matching tickets: {total}. Listed: {ticket_ids}.",
            "Here are the matching tickets: {ticket_ids} ({tickets#} shown of {total}).",
        ],
    )
    def list_tickets(
        self,
        status: Annotated[Status | None, Field(description="Only tickets in this status.")] = None,
        priority: Annotated[Priority | None, Field(description="Only tickets with this priority.")] = None,
        category: Annotated[Category | None, Field(description="Only tickets in this category.")] = None,
        owner: Annotated[str | None, Field(description="Only tickets assigned to this agent username.")] = None,
        customer: Annotated[str | None, Field(description="Only tickets requested by this customer username.")] = None,
        unassigned_only: Annotated[bool, Field(description="Only tickets with no owner yet.")] = False,
        limit: Annotated[int, Field(description="Return at most this many tickets.", ge=1, le=200)] = 50,
    ) -> TicketList:
        """List tickets, oldest first, filtered by status, priority, category, owner or customer.

        Agents see every ticket; customers see only the tickets they requested.
        """
        me = self._user()
        if owner is not None:
            self._agent_named(owner)
            if unassigned_only:
                raise InvalidArgument("give either owner or unassigned_only, not both")
        if customer is not None and customer not in self.state.users:
            raise NotFound(f"no helpdesk user named {customer!r}")
        found = [
            t
            for t in self.state.tickets.values()
            if (me.role == "agent" or t.customer == me.username)
            and status in (None, t.status)
            and priority in (None, t.priority)
            and category in (None, t.category)
            and owner in (None, t.owner)
            and customer in (None, t.customer)
            and not (unassigned_only and t.owner is not None)
        ]
        found.sort(key=lambda t: t.ticket_id)
        shown = [t.model_copy() for t in found[:limit]]
        return TicketList(tickets=shown, ticket_ids=[t.ticket_id for t in shown], total=len(found))

    @tool(
        requires=["tickets_logged_in"],
        consumes={"ticket_id": "ticket_id"},
        asks=[
            'Update {ticket_id}[ and retitle it "{title}"][, set the priority to {priority}][, change the description '
            'to "{description}"]',
            'Can you edit {ticket_id}?[ The new title is "{title}".][ Make it {priority} priority.][ The description '
            "should now read as follows. {description}]",
            'Let\'s correct {ticket_id}.[ Call it "{title}" instead.][ It should be {priority} priority.][ Its '
            'description should say "{description}"]',
            'Please change {ticket_id}[ so its priority is {priority}][; the title should be "{title}"][; the '
            'description should be "{description}"]',
            'There\'s a mistake in {ticket_id}.[ The title should read "{title}".][ The priority ought to be '
            "{priority}.][ Please use this description instead. {description}]",
        ],
        answers=[
            'Saved your changes to {ticket_id}; it is now titled "{title}" with {priority} priority.',
            'Updated {ticket_id}[, now at {@priority} priority][, with the new title "{@title}"].',
        ],
    )
    def edit_ticket(
        self,
        ticket_id: TicketId,
        title: Annotated[str | None, Field(description="New title.", min_length=3, max_length=120)] = None,
        description: Annotated[str | None, Field(description="New description.", min_length=1)] = None,
        priority: Annotated[Priority | None, Field(description="New priority.")] = None,
    ) -> Ticket:
        """Change a ticket's title, description and/or priority. Closed tickets cannot be edited.
        Needs a helpdesk session (tickets_log_in)."""
        ticket = self._ticket(ticket_id)
        if ticket.status == "closed":
            raise PreconditionFailed(f"{ticket_id} is closed and can no longer be edited; create a new ticket")
        changes = {
            name: value
            for name, value in (("title", title), ("description", description), ("priority", priority))
            if value is not None and value != getattr(ticket, name)
        }
        if not changes:
            raise InvalidArgument("nothing to change: give a title, description or priority that differs from now")
        for name, value in changes.items():
            setattr(ticket, name, value)
        ticket.updated_at = self._tick()
        self._log(ticket_id, "edited", "changed " + ", ".join(sorted(changes)))
        return ticket.model_copy()

    @tool(
        requires=["tickets_logged_in"],
        consumes={"ticket_id": "ticket_id", "agent_username": "agent_username"},
        asks=[
            "Assign {ticket_id}[ to {agent_username}].",
            "Can you get someone working on {ticket_id}[, ideally {agent_username}]?",
            "Please route {ticket_id}[ to {agent_username}].",
            "I want an owner for {ticket_id}[, and it should be {agent_username}].",
            "Could you hand {ticket_id} off[ to {agent_username}]?",
        ],
        answers=["Assigned {ticket_id} to {owner}; it is in progress now.", "The new owner of {ticket_id} is {owner}."],
    )
    def assign_ticket(
        self,
        ticket_id: TicketId,
        agent_username: Annotated[
            str | None, Field(description="Agent to assign (see list_agents). Leave out to auto-assign.")
        ] = None,
    ) -> Ticket:
        """Assign an open or in-progress ticket to an agent (agents only); an open ticket moves to in_progress.

        Without agent_username the ticket goes to the agent with the fewest active tickets (ties drawn at random).
        """
        self._require_agent("assign tickets")
        ticket = self._ticket(ticket_id)
        if ticket.status in ("resolved", "closed"):
            raise PreconditionFailed(
                f"{ticket_id} is {ticket.status}; only open or in-progress tickets can be assigned"
            )
        if agent_username is None:
            loads = {u: self._active_count(u) for u in sorted(self.state.users) if self.state.users[u].role == "agent"}
            least = min(loads.values())
            agent_username = self.rng.choice([u for u, load in loads.items() if load == least])
        self._agent_named(agent_username)
        if ticket.owner == agent_username:
            raise InvalidArgument(f"{ticket_id} is already assigned to {agent_username}")
        ticket.owner, ticket.status, ticket.updated_at = agent_username, "in_progress", self._tick()
        self._log(ticket_id, "assigned", f"assigned to {agent_username}")
        return ticket.model_copy()

    @tool(
        requires=["tickets_logged_in"],
        consumes={"ticket_id": "ticket_id"},
        produces={"comment_id": "comment_id"},
        asks=[
            'Comment "{body}" on {ticket_id}[{internal? as an internal note|}].',
            'Put "{body}" on {ticket_id}[{internal? as a note only agents can see|}].',
            'Can you post "{body}" on {ticket_id}[{internal? as an internal note the customer won\'t see|}]?',
            'Reply on {ticket_id}[{internal? internally|}] with "{body}"',
            'Leave a[{internal?n internal|}] note on {ticket_id} saying "{body}"',
            "(Add|Post|Leave|Put) (a comment|a note|this comment) on {ticket_id}[{internal? for agents only|}] "
            '(saying|that says|reading) "{body}".',
            '(Reply to|Answer|Comment on) {ticket_id}[{internal? with an internal note|}] (with|and say) "{body}".',
        ],
        answers=[
            "Your {internal?internal note|comment} is on {ticket_id} as {comment_id}.",
            "Added {comment_id} to {ticket_id}{internal?, visible to agents only|}.",
        ],
    )
    def add_ticket_comment(
        self,
        ticket_id: TicketId,
        body: Annotated[str, Field(description="Text of the comment.", min_length=1, max_length=4000)],
        internal: Annotated[bool, Field(description="Agents only: an internal note hidden from the customer.")] = False,
    ) -> TicketComment:
        """Add a public comment (or, for agents, an internal note) to a ticket that is not closed.
        Needs a helpdesk session (tickets_log_in)."""
        me = self._user()
        ticket = self._ticket(ticket_id)
        if internal and me.role != "agent":
            raise PreconditionFailed("only agents can add internal notes; post a public comment instead")
        if ticket.status == "closed":
            raise PreconditionFailed(f"{ticket_id} is closed; comments are no longer accepted")
        comment_id = f"CMT-{self.state.next_comment_number:04d}"
        ticket.updated_at = now = self._tick()
        self.state.comments[comment_id] = TicketComment(
            comment_id=comment_id, ticket_id=ticket_id, author=me.username, body=body, internal=internal, created_at=now
        )
        self.state.next_comment_number += 1
        self._log(ticket_id, "internal_note" if internal else "commented", f"{comment_id} added", internal=internal)
        return self.state.comments[comment_id].model_copy()

    @tool(
        read_only=True,
        requires=["tickets_logged_in"],
        consumes={"ticket_id": "ticket_id"},
        produces={"comment_ids": "comment_id"},
        asks=[
            "Bring up the comments on {ticket_id}.",
            "What has been said on {ticket_id} so far?",
            "What replies are there on {ticket_id}?",
            "I'd like to read the conversation on {ticket_id}.",
            "Are there any comments on {ticket_id}?",
        ],
        answers=[
            "I count {comments#} comments on {ticket_id}[: {comment_ids}].",
            "Comments on {ticket_id}: {comment_ids}.",
        ],
    )
    def list_ticket_comments(self, ticket_id: TicketId) -> CommentList:
        """List a ticket's comments, oldest first. Customers do not see internal notes."""
        self._ticket(ticket_id)
        agent = self._user().role == "agent"
        found = sorted(
            (c for c in self.state.comments.values() if c.ticket_id == ticket_id and (agent or not c.internal)),
            key=lambda c: c.comment_id,
        )
        found = [c.model_copy() for c in found]
        return CommentList(ticket_id=ticket_id, comments=found, comment_ids=[c.comment_id for c in found])

    @tool(
        requires=["tickets_logged_in"],
        consumes={"comment_id": "comment_id"},
        asks=[
            "Delete {comment_id}.",
            "Can you take {comment_id} off the ticket?",
            "Scrap {comment_id} from the ticket.",
            "Please remove {comment_id}; I posted it by mistake.",
            "Get rid of {comment_id} from the ticket thread.",
        ],
        answers=[
            "Comment {deleted_comment_id} is deleted from {ticket_id}.",
            "Removed {deleted_comment_id} from ticket {ticket_id}.",
        ],
    )
    def delete_ticket_comment(
        self, comment_id: Annotated[str, Field(description="A comment id such as 'CMT-0004'.")]
    ) -> DeletedComment:
        """Delete a comment you wrote, on a ticket that is not closed.
        Needs a helpdesk session (tickets_log_in)."""
        me = self._user()
        comment = self.state.comments.get(comment_id)
        ticket = self.state.tickets[comment.ticket_id] if comment else None
        if (
            comment is None
            or ticket is None
            or (me.role == "customer" and (comment.internal or ticket.customer != me.username))
        ):
            raise NotFound(f"no comment {comment_id!r} visible to you; see list_ticket_comments")
        if comment.author != me.username:
            raise PreconditionFailed(f"{comment_id} was written by {comment.author}; you can only delete your own")
        if ticket.status == "closed":
            raise PreconditionFailed(f"{ticket.ticket_id} is closed; its comments can no longer be deleted")
        del self.state.comments[comment_id]
        ticket.updated_at = self._tick()
        self._log(ticket.ticket_id, "comment_deleted", f"{comment_id} deleted", internal=comment.internal)
        return DeletedComment(deleted_comment_id=comment_id, ticket_id=ticket.ticket_id)

    @tool(
        requires=["tickets_logged_in"],
        consumes={"ticket_id": "ticket_id"},
        asks=[
            "Escalate {ticket_id}. {reason}",
            "Please bump up the priority of {ticket_id}. {reason}",
            "Can you escalate {ticket_id}? {reason}",
            "I need {ticket_id} escalated. {reason}",
            "Raise the urgency on {ticket_id}. {reason}",
            "(Escalate|Bump up|Raise the priority of) {ticket_id} (for me|right away|now). {reason}",
            "{ticket_id} (needs to be|has to be|should be) escalated (now|right away|today). {reason}",
        ],
        answers=[
            "The priority of {ticket_id} is now {priority} after the escalation.",
            "Escalated {ticket_id} to {priority} priority.",
        ],
    )
    def escalate_ticket(
        self,
        ticket_id: TicketId,
        reason: Annotated[str, Field(description="Why the ticket needs more urgency.", min_length=3)],
    ) -> Ticket:
        """Escalate an open or in-progress ticket: raise its priority one level (low -> medium -> high -> urgent).
        Needs a helpdesk session (tickets_log_in)."""
        ticket = self._ticket(ticket_id)
        if ticket.status in ("resolved", "closed"):
            raise PreconditionFailed(f"{ticket_id} is {ticket.status}; only open or in-progress tickets can escalate")
        if ticket.priority == "urgent":
            raise PreconditionFailed(f"{ticket_id} is already urgent, the highest priority")
        old = ticket.priority
        ticket.priority = PRIORITIES[PRIORITIES.index(old) + 1]  # type: ignore[assignment]
        ticket.escalated, ticket.updated_at = True, self._tick()
        self._log(ticket_id, "escalated", f"priority {old} -> {ticket.priority}: {reason}")
        return ticket.model_copy()

    @tool(
        requires=["tickets_logged_in"],
        provides=["tickets_ticket_resolved"],
        consumes={"ticket_id": "ticket_id"},
        asks=[
            "Mark {ticket_id} as resolved. {resolution}",
            'Resolve {ticket_id} with the note "{resolution}"',
            "Can you set {ticket_id} to resolved? {resolution}",
            "I fixed {ticket_id}; please record it as resolved. {resolution}",
            "The problem in {ticket_id} is solved, so resolve it. {resolution}",
            "(Resolve|Close out) {ticket_id} (now|for me|please). {resolution}",
            "{ticket_id} (is fixed|is sorted|has been solved), so (resolve it|mark it resolved|set it to resolved). "
            "{resolution}",
        ],
        answers=[
            "Ticket {ticket_id} is resolved. Resolution on record: {resolution}",
            "Resolved {ticket_id} at {resolved_at}.",
        ],
    )
    def resolve_ticket(
        self,
        ticket_id: TicketId,
        resolution: Annotated[str, Field(description="What was done to solve the problem.", min_length=3)],
    ) -> Ticket:
        """Mark an in-progress ticket resolved with a resolution note (agents only)."""
        self._require_agent("resolve tickets")
        ticket = self._ticket(ticket_id)
        if ticket.status != "in_progress":
            hint = "assign it first (assign_ticket)" if ticket.status == "open" else "it cannot be resolved again"
            raise PreconditionFailed(f"{ticket_id} is {ticket.status}; {hint}")
        ticket.updated_at = ticket.resolved_at = self._tick()
        ticket.status, ticket.resolution = "resolved", resolution
        self._log(ticket_id, "resolved", resolution)
        return ticket.model_copy()

    @tool(
        requires=["tickets_logged_in", "tickets_ticket_resolved"],
        consumes={"ticket_id": "ticket_id"},
        asks=[
            "Reopen {ticket_id}. {reason}",
            "Can you reopen {ticket_id}? {reason}",
            "The fix for {ticket_id} didn't work, so please reopen it. {reason}",
            "I need {ticket_id} opened again. {reason}",
            "Please put {ticket_id} back in progress. {reason}",
            "(Reopen|Please reopen) {ticket_id} (for me|now|right away). {reason}",
            "{ticket_id} (isn't fixed|still isn't working|came back), so (reopen it|open it again|put it back in "
            "progress). {reason}",
        ],
        answers=[
            "Ticket {ticket_id} is reopened and back in progress[ with {owner}].",
            "Reopened {ticket_id}[; {owner} still owns it].",
        ],
    )
    def reopen_ticket(
        self,
        ticket_id: TicketId,
        reason: Annotated[str, Field(description="Why the resolution did not solve the problem.", min_length=3)],
    ) -> Ticket:
        """Reopen a resolved ticket: it goes back to in_progress with the same owner and loses its resolution.

        Only resolved tickets can be reopened; a closed ticket is final.
        """
        ticket = self._ticket(ticket_id)
        if ticket.status != "resolved":
            raise PreconditionFailed(f"{ticket_id} is {ticket.status}; only resolved tickets can be reopened")
        ticket.status, ticket.resolution, ticket.resolved_at = "in_progress", None, None
        ticket.updated_at = self._tick()
        self._log(ticket_id, "reopened", reason)
        return ticket.model_copy()

    @tool(
        requires=["tickets_logged_in", "tickets_ticket_resolved"],
        consumes={"ticket_id": "ticket_id"},
        asks=[
            "Close {ticket_id}.",
            "Can you close {ticket_id} for good?",
            "I'm happy with the fix, so please close {ticket_id}.",
            "Go ahead and close {ticket_id}.",
            "Mark {ticket_id} as closed; we're done with it.",
        ],
        answers=["Ticket {ticket_id} is closed for good.", "Closed {ticket_id} at {closed_at}."],
    )
    def close_ticket(self, ticket_id: TicketId) -> Ticket:
        """Close a resolved ticket for good (any agent, or the customer who requested it). Closed tickets are final.
        Needs a helpdesk session (tickets_log_in)."""
        ticket = self._ticket(ticket_id)
        if ticket.status != "resolved":
            raise PreconditionFailed(f"{ticket_id} is {ticket.status}; only resolved tickets can be closed")
        ticket.updated_at = ticket.closed_at = self._tick()  # tick first: the state validator runs on each tick
        ticket.status = "closed"
        self._log(ticket_id, "closed", "ticket closed")
        return ticket.model_copy()

    @tool(
        read_only=True,
        requires=["tickets_logged_in"],
        produces={"agent_usernames": "agent_username"},
        asks=[
            "Which support agents are there?",
            "List the helpdesk agents.",
            "How busy is each support agent?",
            "Tell me who works on the support team.",
            "Who could take a ticket right now?",
        ],
        answers=["The helpdesk has {agents#} agents: {agent_usernames}.", "The support agents are {agent_usernames}."],
    )
    def list_agents(self) -> AgentList:
        """List the support agents with their team and how many active tickets each owns.
        Needs a helpdesk session (tickets_log_in)."""
        self._me()
        agents = [
            AgentInfo(username=u.username, full_name=u.full_name, team=u.team, active_tickets=self._active_count(name))
            for name, u in sorted(self.state.users.items())
            if u.role == "agent"
        ]
        return AgentList(agents=agents, agent_usernames=[a.username for a in agents])

    @tool(
        read_only=True,
        requires=["tickets_logged_in"],
        consumes={"ticket_id": "ticket_id"},
        asks=[
            "Show me the history of {ticket_id}.",
            "What has happened on {ticket_id} so far?",
            "Could you fetch the audit log for {ticket_id}?",
            "Who changed {ticket_id}, and when?",
            "Walk me through the timeline of {ticket_id}.",
        ],
        answers=[
            "The history of {ticket_id} has {events#} entries, oldest first: {events.action}.",
            "The audit log of {ticket_id}, oldest first: {events.action}.",
        ],
    )
    def get_ticket_history(self, ticket_id: TicketId) -> TicketHistory:
        """Show a ticket's audit log: who created, edited, assigned, escalated, resolved, reopened or closed it."""
        self._ticket(ticket_id)
        agent = self._user().role == "agent"
        events = sorted(
            (e for e in self.state.events.values() if e.ticket_id == ticket_id and (agent or not e.internal)),
            key=lambda e: e.event_id,
        )
        return TicketHistory(ticket_id=ticket_id, events=[e.model_copy() for e in events])

    @tool(
        read_only=True,
        requires=["tickets_logged_in"],
        asks=[
            "Give me an overview of the tickets.",
            "How many tickets are open or unassigned?",
            "Can you sum up the ticket numbers for me?",
            "Helpdesk stats, please.",
            "What does the ticket queue look like?",
        ],
        answers=[
            "Tickets you can see: {total}. Open: {by_status.open}. In progress: {by_status.in_progress}. Resolved: "
            "{by_status.resolved}. Closed: {by_status.closed}.",
            "Unassigned open tickets: {unassigned}. Escalated tickets still active: {escalated}. Total visible: "
            "{total}.",
        ],
    )
    def get_ticket_stats(self) -> TicketStats:
        """Count the tickets you can see by status and, for active ones, by priority; plus unassigned and escalated."""
        me = self._user()
        mine = [t for t in self.state.tickets.values() if me.role == "agent" or t.customer == me.username]
        active = [t for t in mine if t.status in ("open", "in_progress")]
        return TicketStats(
            total=len(mine),
            by_status={s: sum(t.status == s for t in mine) for s in STATUSES},
            by_priority={p: sum(t.priority == p for t in active) for p in PRIORITIES},
            unassigned=sum(t.owner is None for t in active),
            escalated=sum(t.escalated for t in active),
        )

    def _me(self) -> str:
        if self.state.current_user is None:
            raise PreconditionFailed("no helpdesk user is logged in; call tickets_log_in first")
        return self.state.current_user

    def _user(self) -> TicketUser:
        return self.state.users[self._me()]

    def _require_agent(self, what: str) -> None:
        if self._user().role != "agent":
            raise PreconditionFailed(f"only support agents can {what}; you are logged in as a customer")

    def _agent_named(self, username: str) -> TicketUser:
        user = self.state.users.get(username)
        if user is None:
            raise NotFound(f"no helpdesk user named {username!r}; see list_agents")
        if user.role != "agent":
            raise InvalidArgument(f"{username!r} is a customer, not a support agent; see list_agents")
        return user

    def _ticket(self, ticket_id: str) -> Ticket:
        me = self._user()
        ticket = self.state.tickets.get(ticket_id)
        if ticket is None or (me.role == "customer" and ticket.customer != me.username):
            raise NotFound(f"no ticket {ticket_id!r} visible to you; see list_tickets")
        return ticket

    def _active_count(self, username: str) -> int:
        return sum(t.owner == username and t.status in ("open", "in_progress") for t in self.state.tickets.values())

    def _tick(self) -> str:
        self.state.clock = (datetime.fromisoformat(self.state.clock) + timedelta(minutes=1)).isoformat()
        return self.state.clock

    def _log(self, ticket_id: str, action: Action, detail: str, *, internal: bool = False) -> None:
        event_id = f"EVT-{self.state.next_event_number:05d}"
        self.state.events[event_id] = HistoryEvent(
            event_id=event_id, ticket_id=ticket_id, actor=self._me(), action=action, detail=detail,
            internal=internal, at=self.state.clock,
        )  # fmt: skip
        self.state.next_event_number += 1
