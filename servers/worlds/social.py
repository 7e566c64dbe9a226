"""Social worlds: other accounts, who follows whom, posts, reposts, likes and comments, from the seed."""

import re

from servers.worlds._framework import Draw, World, generator

__all__ = ["generate"]

_HANDLE = re.compile(r"[^a-z0-9_]")


@generator("social")
def generate(draw: Draw) -> World:
    """5-12 accounts, 6-40 posts (some reposts, some mentioning others), likes and 3-25 comments."""
    people = draw.people(draw.between(5, 12))
    names = draw.unique([_HANDLE.sub("", draw.handle(person, "_"))[:13] for person in people])
    clock = draw.clock()
    accounts = {}
    for person, username in zip(people, names, strict=True):
        others = [name for name in names if name != username]
        accounts[username] = {
            "username": username,
            "display_name": draw.pick([person.full, f"{person.first} {person.last[0]}.", person.first]),
            "bio": draw.pick(draw.vocab("social_bios")),
            "password": draw.password(person),
            "joined_at": draw.moment(clock, 900),
            "verified": draw.chance(0.15),
            "following": draw.sample(others, draw.between(0, min(8, len(others)))),
        }
    posts: dict[str, dict] = {}
    for number, created in enumerate(draw.moments(clock, 4, draw.between(6, 40)), 1):
        post_id = f"POST{number:04d}"
        author = draw.pick(names)
        originals = [key for key, post in posts.items() if post["repost_of"] is None and post["author"] != author]
        repost = originals and draw.chance(0.12)
        content = "" if repost else draw.pick(draw.vocab("social_posts"))
        if content and draw.chance(0.25):
            content = f"@{draw.pick([name for name in names if name != author])} {content}"
        likers = [name for name in names if name != author]
        posts[post_id] = {
            "post_id": post_id,
            "author": author,
            "content": content,
            "created_at": created,
            "repost_of": draw.pick(originals) if repost else None,
            "liked_by": draw.sample(likers, draw.between(0, min(6, len(likers)))),
        }
    originals = [key for key, post in posts.items() if post["repost_of"] is None]
    comments = {}
    for number, created in enumerate(draw.moments(clock, 2, draw.between(3, 25)), 1):
        comment_id = f"CMT{number:04d}"
        comments[comment_id] = {
            "comment_id": comment_id,
            "post_id": draw.pick(originals),
            "author": draw.pick(names),
            "content": draw.pick(draw.vocab("social_comments")),
            "created_at": created,
        }
    logged_in = None  # logged out, as the shipped default: a walk that logs out first prunes badly
    state = {
        "accounts": accounts,
        "posts": posts,
        "comments": comments,
        "current_user": logged_in,
        "max_post_length": draw.pick([280, 280, 500]),
        "next_post_number": len(posts) + 1,
        "next_comment_number": len(comments) + 1,
        "clock": clock,
    }
    credentials = [{"username": name, "password": accounts[name]["password"]} for name in names]
    tags = sorted(
        {word.strip(".,!?")[1:] for post in posts.values() for word in post["content"].split() if word[:1] == "#"}
    )
    pools = {
        "username": names,
        "password": [entry["password"] for entry in credentials] + ["wrongpass"],
        "social_log_in": credentials,
        "post_id": list(posts),
        "comment_id": list(comments),
        "query": [person.first for person in draw.sample(people, 5)],
        "keyword": draw.sample(_words(post["content"] for post in posts.values()), 8),
        "display_name": [accounts[name]["display_name"] for name in draw.sample(names, 4)],
        **({"hashtag": tags} if len(tags) >= 3 else {}),
    }
    who = f"{logged_in} is logged in" if logged_in else "nobody is logged in"
    return World(state, pools, f"{len(accounts)} accounts, {len(posts)} posts, {len(comments)} comments; {who}.")


def _words(texts) -> list[str]:
    """Words a person might search posts for: the longer plain words of this world's posts."""
    return sorted(
        {word.strip(".,!?").lower() for text in texts for word in text.split() if word.isalpha() and len(word) > 4}
    )
