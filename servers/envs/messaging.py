"""A messaging service: users, contacts, an inbox per user, and a login session."""

from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from servers.environment import Environment, tool
from servers.errors import InvalidArgument, NotFound, PreconditionFailed
from servers.state import StateModel

__all__ = ["Message", "Messaging", "MessagingState", "User"]


class User(StateModel):
    user_id: str = Field(description="Unique id, e.g. 'USR001'.")
    name: str = Field(description="Display name, unique across the service.")


class Message(StateModel):
    message_id: str = Field(description="Unique id, e.g. 'MSG0001'.")
    sender_id: str = Field(description="User id of the sender.")
    receiver_id: str = Field(description="User id of the receiver.")
    content: str = Field(description="Text of the message.")
    sent_at: str = Field(description="ISO 8601 time the message was sent.")
    read: bool = Field(default=False, description="Whether the receiver has read it.")


class MessagingState(StateModel):
    users: dict[str, User] = Field(description="Every user by user id.")
    contacts: dict[str, list[str]] = Field(default_factory=dict, description="Each user's contact list of user ids.")
    messages: dict[str, Message] = Field(default_factory=dict, description="Every message by message id.")
    current_user: str | None = Field(default=None, description="User id logged in, or null when logged out.")
    next_message_number: int = Field(default=1, description="Number used for the next message id.", ge=1)
    clock: str = Field(default="2026-01-05T09:00:00", description="Service time; advances one minute per message.")

    @model_validator(mode="after")
    def _check_references(self) -> "MessagingState":
        for user_id, user in self.users.items():
            if user.user_id != user_id:
                raise ValueError(f"users: key {user_id!r} does not match user_id {user.user_id!r}")
        for owner, contacts in self.contacts.items():
            for user_id in [owner, *contacts]:
                if user_id not in self.users:
                    raise ValueError(f"contacts: unknown user {user_id!r}")
        for message_id, message in self.messages.items():
            if message.message_id != message_id:
                raise ValueError(f"messages: key {message_id!r} does not match message_id {message.message_id!r}")
            if message.sender_id not in self.users or message.receiver_id not in self.users:
                raise ValueError(f"messages: {message_id!r} names an unknown user")
        if self.current_user is not None and self.current_user not in self.users:
            raise ValueError(f"current_user: unknown user {self.current_user!r}")
        datetime.fromisoformat(self.clock)
        return self


class UserIdResult(BaseModel):
    user_id: str = Field(description="The user's id.")


class UserList(BaseModel):
    users: list[User] = Field(description="Users, sorted by id.")
    user_ids: list[str] = Field(description="The same users' ids, in the same order.")


class LoginStatus(BaseModel):
    logged_in: bool = Field(description="Whether a user is logged in.")
    user_id: str | None = Field(description="The logged-in user's id, or null.")


class ContactList(BaseModel):
    contacts: list[User] = Field(description="Contacts of the logged-in user, sorted by name.")
    contact_ids: list[str] = Field(description="The same contacts' user ids, in the same order.")


class SentResult(BaseModel):
    message_id: str = Field(description="Id of the message just sent.")
    sent_at: str = Field(description="When it was sent (ISO 8601).")


class MessageList(BaseModel):
    messages: list[Message] = Field(description="Messages, oldest first.")
    message_ids: list[str] = Field(description="The same messages' ids, in the same order.")


class DeletedResult(BaseModel):
    deleted_message_id: str = Field(description="Id of the message removed.")


class MessageStats(BaseModel):
    received: int = Field(description="Messages received by the logged-in user.")
    unread: int = Field(description="Received messages not yet read.")
    sent: int = Field(description="Messages sent by the logged-in user.")
    contacts: int = Field(description="Number of contacts.")


UserId = Annotated[str, Field(description="A user id such as 'USR002' (see get_user_id).")]
MessageId = Annotated[str, Field(description="A message id such as 'MSG0003'.")]


class Messaging(Environment):
    name = "messaging"
    description = "A messaging service: find users, manage contacts, send, read, search and delete messages."
    state_model = MessagingState
    state: MessagingState

    @tool(
        read_only=True,
        produces={"user_id": "user_id"},
        asks=[
            "What is {user_name}'s user id?",
            "Look up the user id of {user_name} for me.",
            "Can you find {user_name}'s id on the service?",
            "I need the account id that belongs to {user_name}.",
            "Look up {user_name} and tell me their user id.",
            "Which id does {user_name} have on the messaging service?",
            "Find out {user_name}'s user id for me.",
            "{user_name} is on the service somewhere; what's their id?",
        ],
        answers=["{@user_name}'s user id is {user_id}.", "The id for {@user_name} is {user_id}."],
    )
    def get_user_id(
        self, user_name: Annotated[str, Field(description="Display name of the user, e.g. 'Alice'.")]
    ) -> UserIdResult:
        """Look up a user's id from their display name (exact match, case-insensitive)."""
        return UserIdResult(user_id=self._user_by_name(user_name).user_id)

    @tool(
        read_only=True,
        produces={"user_ids": "user_id"},
        asks=[
            "Who is on the messaging service?",
            "List all the users on the service.",
            "Would you show me everyone who has an account here?",
            "Pull up the full directory of users.",
            "Which people have signed up to this service?",
        ],
        answers=["The service has {users#} users: {users.name}.", "Registered users ({users#} in all): {users.name}."],
    )
    def list_users(self) -> UserList:
        """List every user of the service."""
        users = sorted(self.state.users.values(), key=lambda user: user.user_id)
        return UserList(users=users, user_ids=[user.user_id for user in users])

    @tool(
        consumes={"user_id": "user_id"},
        provides=["logged_in"],
        asks=[
            "Log me in as {user_id}.",
            "Get me signed in as {user_id}.",
            "Could you open a messaging session for {user_id}?",
            "My messaging account is {user_id}; log me in.",
            "Time to check my messages, so sign me in as {user_id}.",
            "I'm {user_id} on the messaging service; please log me in.",
            "Would you sign me into messaging as {user_id}?",
            "Let me into messaging, I'm {user_id}.",
        ],
        answers=["You're now logged in as {@user_id}.", "Signed in, and the session belongs to {@user_id}."],
    )
    def log_in(self, user_id: UserId) -> LoginStatus:
        """Log in as a user. Needed before any contact or message tool."""
        if user_id not in self.state.users:
            raise NotFound(f"no user with id {user_id!r}")
        if self.state.current_user is not None:
            raise PreconditionFailed(f"already logged in as {self.state.current_user}; log out first")
        self.state.current_user = user_id
        return LoginStatus(logged_in=True, user_id=user_id)

    @tool(
        requires=["logged_in"],
        asks=[
            "Log me out.",
            "Sign me out of the messaging service.",
            "Can you end my messaging session?",
            "I'm done for now, so please log me out.",
            "Please close my messaging session.",
        ],
        answers=["You're logged out.", "Your session has ended; nobody is signed in now."],
    )
    def log_out(self) -> LoginStatus:
        """Log the current user out."""
        self._me()
        self.state.current_user = None
        return LoginStatus(logged_in=False, user_id=None)

    @tool(
        read_only=True,
        asks=[
            "Am I logged in to the messaging service?",
            "Who is signed in to messaging right now?",
            "Quick check, am I still logged in?",
            "Is any account signed in to messaging at the moment?",
            "Tell me if there's an active messaging session.",
        ],
        answers=[
            "[You're logged in as {user_id}.]{logged_in?|Nobody is logged in right now.}",
            "{logged_in?Yes, there is an active session|No, nobody is signed in}[, for {user_id}].",
        ],
    )
    def get_login_status(self) -> LoginStatus:
        """Tell whether a user is logged in, and who."""
        return LoginStatus(logged_in=self.state.current_user is not None, user_id=self.state.current_user)

    @tool(
        requires=["logged_in"],
        produces={"user_id": "user_id"},
        asks=[
            "Add {user_name} to my contacts.",
            "Could you put {user_name} in my contact list?",
            "Go ahead and store {user_name} as a contact.",
            "Save {user_name} as one of my contacts.",
            "Please make {user_name} a contact of mine.",
            "(Add|Save|Put) {user_name} (to|in|into) (my contacts|my contact list|my address book)( for me| please|).",
        ],
        answers=["Added {@user_name} to your contact list.", "Your contacts now include {@user_name}."],
    )
    def add_contact(
        self, user_name: Annotated[str, Field(description="Display name of the user to add.")]
    ) -> UserIdResult:
        """Add a user to the logged-in user's contacts by display name."""
        me = self._me()
        user = self._user_by_name(user_name)
        contacts = self.state.contacts.setdefault(me, [])
        if user.user_id == me:
            raise InvalidArgument("you cannot add yourself as a contact")
        if user.user_id in contacts:
            raise InvalidArgument(f"{user.name} is already a contact")
        contacts.append(user.user_id)
        return UserIdResult(user_id=user.user_id)

    @tool(
        requires=["logged_in"],
        consumes={"user_id": "user_id"},
        asks=[
            "Remove {user_id} from my contacts.",
            "Take {user_id} off my contact list.",
            "Can you delete {user_id} from my contacts?",
            "I don't want {user_id} in my contacts anymore.",
            "Drop {user_id} from my contact list, please.",
            "(Remove|Delete|Take) {user_id} (from|off) (my contacts|my contact list|my address book)( for good| now|).",
        ],
        answers=["Removed {@user_id} from your contacts.", "Your contact list no longer includes {@user_id}."],
    )
    def remove_contact(self, user_id: UserId) -> UserIdResult:
        """Remove a user from the logged-in user's contacts."""
        contacts = self.state.contacts.get(self._me(), [])
        if user_id not in contacts:
            raise NotFound(f"{user_id} is not in your contacts")
        contacts.remove(user_id)
        return UserIdResult(user_id=user_id)

    @tool(
        read_only=True,
        requires=["logged_in"],
        produces={"contact_ids": "user_id"},
        asks=[
            "Who is in my contacts?",
            "Bring up my contact list.",
            "Would you list my contacts?",
            "Tell me everyone I have saved as a contact.",
            "Which people are in my address book?",
            "(Show me|List|Pull up|Give me) (my contacts|my contact list|everyone in my contacts|the people in my "
            "address book).",
            "(Who is|Which people are) (in my contacts|on my contact list|in my address book) (right now|at the "
            "moment|these days)?",
            "(Show me|List|Pull up|Give me) (my contacts|my contact list|everyone in my contacts|the people in my "
            "address book).",
            "(Who is|Which people are) (in my contacts|on my contact list|in my address book) (right now|at the "
            "moment|these days)?",
        ],
        answers=[
            "You have {contacts#} contacts[: {contacts.name}].",
            "Your contacts are {contacts.name} ({contacts#} in all).",
        ],
    )
    def list_contacts(self) -> ContactList:
        """List the logged-in user's contacts."""
        contacts = sorted(
            (self.state.users[uid] for uid in self.state.contacts.get(self._me(), [])), key=lambda u: u.name
        )
        return ContactList(contacts=contacts, contact_ids=[user.user_id for user in contacts])

    @tool(
        requires=["logged_in"],
        consumes={"receiver_id": "user_id"},
        produces={"message_id": "message_id"},
        asks=[
            'Send {receiver_id} a message saying "{message}".',
            'Please message {receiver_id} and say "{message}"',
            'Can you write to {receiver_id} and tell them "{message}"?',
            'I want {receiver_id} to get this from me, "{message}"',
            'Drop {receiver_id} a note that says "{message}".',
            "(Send|Write) {receiver_id} a (message|note|quick message|text) (saying|that says|with the words) "
            '"{message}".',
            '(Let {receiver_id} know|Tell {receiver_id}) (from me|by message): "{message}"',
            'Message {receiver_id} (and say|to say) "{message}".',
        ],
        answers=[
            "Your message to {@receiver_id} is sent (message {message_id}, at {sent_at}).",
            "Sent. {@receiver_id} will see it as message {message_id}.",
        ],
    )
    def send_message(
        self,
        receiver_id: Annotated[str, Field(description="User id of the receiver (see get_user_id).")],
        message: Annotated[str, Field(description="Text to send.", min_length=1)],
    ) -> SentResult:
        """Send a message from the logged-in user to another user."""
        me = self._me()
        if receiver_id not in self.state.users:
            raise NotFound(f"no user with id {receiver_id!r}")
        if receiver_id == me:
            raise InvalidArgument("you cannot send a message to yourself")
        message_id = f"MSG{self.state.next_message_number:04d}"
        sent_at = (datetime.fromisoformat(self.state.clock) + timedelta(minutes=1)).isoformat()
        self.state.messages[message_id] = Message(
            message_id=message_id, sender_id=me, receiver_id=receiver_id, content=message, sent_at=sent_at
        )
        self.state.next_message_number += 1
        self.state.clock = sent_at
        return SentResult(message_id=message_id, sent_at=sent_at)

    @tool(
        read_only=True,
        requires=["logged_in"],
        produces={"message_ids": "message_id"},
        asks=[
            "Show me my inbox{unread_only?, just the unread messages|}.",
            "What messages have I received{unread_only? that I haven't read yet|}?",
            "Can you list the {unread_only?unread |}messages in my inbox?",
            "Let me see {unread_only?what's unread in my inbox|everything in my inbox}.",
            "(Show me|Pull up|Bring up|Open) my (inbox|messages|incoming messages){unread_only?, only the unread "
            "ones|}.",
            "(What|Which) messages (have come in|are waiting for me|did I get){unread_only? that I haven't read|} "
            "(so far|lately|today)?",
            "(Show me|Pull up|Bring up|Open) my (inbox|messages|incoming messages){unread_only?, only the unread "
            "ones|}.",
            "(What|Which) messages (have come in|are waiting for me|did I get){unread_only? that I haven't read|} "
            "(so far|lately|today)?",
        ],
        answers=[
            "You have {messages#} messages in your inbox[{@unread_only? that you haven't read|}][: {message_ids}].",
            "Your inbox holds {messages#} messages[{@unread_only? still unread|}][ ({message_ids})].",
        ],
    )
    def view_inbox(
        self, unread_only: Annotated[bool, Field(description="Show only messages not yet read.")] = False
    ) -> MessageList:
        """Show the messages the logged-in user has received."""
        me = self._me()
        return _message_list(
            m for m in self.state.messages.values() if m.receiver_id == me and not (unread_only and m.read)
        )

    @tool(
        read_only=True,
        requires=["logged_in"],
        produces={"message_ids": "message_id"},
        asks=[
            "Pull up the messages I've sent.",
            "What have I sent so far?",
            "Could you go through my sent messages?",
            "Let me see everything I've sent.",
            "Open my sent folder.",
            "(Show me|List|Pull up|Bring up) (the messages I've sent|my sent messages|everything in my sent folder)( "
            "so far| lately|).",
            "(What|Which) messages (have I sent|did I send|went out from me) (so far|lately|recently)?",
            "(Show me|List|Pull up|Bring up) (the messages I've sent|my sent messages|everything in my sent folder)( "
            "so far| lately|).",
            "(What|Which) messages (have I sent|did I send|went out from me) (so far|lately|recently)?",
        ],
        answers=[
            "You have sent {messages#} messages[: {message_ids}].",
            "Your sent folder holds {message_ids} ({messages#} in total).",
        ],
    )
    def view_sent_messages(self) -> MessageList:
        """Show the messages the logged-in user has sent."""
        me = self._me()
        return _message_list(m for m in self.state.messages.values() if m.sender_id == me)

    @tool(
        requires=["logged_in"],
        consumes={"message_id": "message_id"},
        asks=[
            "Open {message_id} for me.",
            "What does {message_id} say?",
            "Can you read me {message_id}?",
            "Read {message_id} out to me in full.",
            "Display {message_id} for me.",
        ],
        answers=[
            'Message {message_id} from {sender_id} says "{content}"',
            'This is message {message_id}, sent by {sender_id} at {sent_at}: "{content}"',
        ],
    )
    def read_message(self, message_id: MessageId) -> Message:
        """Open one message the logged-in user sent or received; a received one is marked as read."""
        message = self._my_message(message_id)
        if message.receiver_id == self.state.current_user:
            message.read = True
        return message

    @tool(
        requires=["logged_in"],
        consumes={"message_id": "message_id"},
        asks=[
            "Delete {message_id}.",
            "Would you remove {message_id} from my messages?",
            "Trash {message_id}, I don't need it.",
            "Get rid of {message_id} for me.",
            "Please erase {message_id} from my mailbox.",
        ],
        answers=["Message {deleted_message_id} is deleted.", "Your message {deleted_message_id} has been removed."],
    )
    def delete_message(self, message_id: MessageId) -> DeletedResult:
        """Delete a message the logged-in user sent or received."""
        self._my_message(message_id)
        del self.state.messages[message_id]
        return DeletedResult(deleted_message_id=message_id)

    @tool(
        read_only=True,
        requires=["logged_in"],
        produces={"message_ids": "message_id"},
        asks=[
            'Find my messages that mention "{keyword}".',
            "Search my messages for {keyword}.",
            'Have I sent or received anything about "{keyword}"?',
            'I need every message of mine containing "{keyword}".',
            'Can you look through my messages for "{keyword}"?',
            "(Find|Search for|Look up|Show me) (every message|the messages|any messages) (that "
            'mention|about|containing) "{keyword}"( in my mailbox| for me|).',
        ],
        answers=[
            "Messages that mention {@keyword}: {message_ids}.",
            'Your search for "{@keyword}" turned up {messages#} messages[, {message_ids}].',
        ],
    )
    def search_messages(
        self, keyword: Annotated[str, Field(description="Text to look for, case-insensitive.", min_length=1)]
    ) -> MessageList:
        """Find the logged-in user's sent and received messages that contain a keyword."""
        me = self._me()
        needle = keyword.lower()
        return _message_list(
            m
            for m in self.state.messages.values()
            if me in (m.sender_id, m.receiver_id) and needle in m.content.lower()
        )

    @tool(
        read_only=True,
        requires=["logged_in"],
        asks=[
            "How many messages do I have?",
            "Give me a quick summary of my messages.",
            "Quick question, how many unread messages do I have?",
            "I need my counts of received, unread and sent messages.",
            "What do my mailbox numbers look like?",
            "(Tell me|Let me know) how many messages I have( right now| at the moment| in total|).",
            "(Give me|Show me) (my message counts|the numbers for my mailbox|a summary of my messages)( right now| "
            "at the moment|).",
            "(How many|Roughly how many) messages (have I got|do I have) (in total|unread|altogether)?",
            "(Tell me|Let me know) how many messages I have( right now| at the moment| in total|).",
            "(Give me|Show me) (my message counts|the numbers for my mailbox|a summary of my messages)( right now| "
            "at the moment|).",
            "(How many|Roughly how many) messages (have I got|do I have) (in total|unread|altogether)?",
        ],
        answers=[
            "Messages received: {received}, of them unread: {unread}. Sent: {sent}. Contacts: {contacts}.",
            "Your mailbox stands at {received} received and {unread} unread, with {sent} sent and a contact count of "
            "{contacts}.",
        ],
    )
    def get_message_stats(self) -> MessageStats:
        """Count the logged-in user's received, unread and sent messages and contacts."""
        me = self._me()
        received = [m for m in self.state.messages.values() if m.receiver_id == me]
        return MessageStats(
            received=len(received),
            unread=sum(not m.read for m in received),
            sent=sum(m.sender_id == me for m in self.state.messages.values()),
            contacts=len(self.state.contacts.get(me, [])),
        )

    def _me(self) -> str:
        if self.state.current_user is None:
            raise PreconditionFailed("no user is logged in; call log_in first")
        return self.state.current_user

    def _user_by_name(self, user_name: str) -> User:
        for user in self.state.users.values():
            if user.name.lower() == user_name.lower():
                return user
        raise NotFound(f"no user named {user_name!r}")

    def _my_message(self, message_id: str) -> Message:
        me = self._me()
        message = self.state.messages.get(message_id)
        if message is None or me not in (message.sender_id, message.receiver_id):
            raise NotFound(f"no message {message_id!r} in your inbox or sent messages")
        return message


def _message_list(messages) -> MessageList:  # type: ignore[no-untyped-def]
    ordered = sorted(messages, key=lambda m: (m.sent_at, m.message_id))
    return MessageList(messages=ordered, message_ids=[m.message_id for m in ordered])
