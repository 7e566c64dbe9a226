"""Messaging worlds: other people, contact lists and conversations, from the seed."""

from servers.worlds._framework import Draw, World, generator

__all__ = ["generate"]


@generator("messaging")
def generate(draw: Draw) -> World:
    """6-16 users (first names, as the service shows them), contacts among them, 4-30 messages in threads."""
    people = draw.people(draw.between(6, 16))
    ids = [f"USR{number:03d}" for number in draw.sample(range(1, 400), len(people))]
    ids.sort()
    users = {user_id: {"user_id": user_id, "name": person.first} for user_id, person in zip(ids, people, strict=True)}
    contacts = {}
    for owner in draw.sample(ids, draw.between(2, len(ids))):
        others = [user_id for user_id in ids if user_id != owner]
        contacts[owner] = sorted(draw.sample(others, draw.between(1, min(6, len(others)))))
    clock = draw.clock()
    texts = draw.vocab("messages")
    drawn = sorted(
        (draw.moment(clock, 6), *draw.sample(ids, 2), draw.pick(texts), draw.chance(0.5))
        for _ in range(draw.between(4, 30))
    )
    messages = {}
    for number, (sent_at, sender, receiver, content, read) in enumerate(drawn, 1):
        message_id = f"MSG{number:04d}"
        messages[message_id] = {
            "message_id": message_id,
            "sender_id": sender,
            "receiver_id": receiver,
            "content": content,
            "sent_at": sent_at,
            "read": read,
        }
    logged_in = None  # logged out, as the shipped default: a walk that logs out first prunes badly
    state = {
        "users": users,
        "contacts": contacts,
        "messages": messages,
        "current_user": logged_in,
        "next_message_number": len(messages) + 1,
        "clock": clock,
    }
    said = [message["content"] for message in messages.values()]
    keywords = sorted({word.strip(".,!?").lower() for text in said for word in text.split() if len(word) > 5})
    pools = {
        "user_name": [person.first for person in people],
        "user_id": ids,
        "keyword": draw.sample(keywords, 8),
    }
    who = f"{users[logged_in]['name']} is logged in" if logged_in else "nobody is logged in"
    return World(state, pools, f"{len(users)} users, {len(messages)} messages; {who}.")
