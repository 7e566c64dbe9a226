"""A microblogging service: accounts, posts with hashtags and mentions, comments, likes, reposts, follows."""

import re
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from servers.environment import Environment, tool
from servers.errors import InvalidArgument, NotFound, PreconditionFailed
from servers.state import StateModel

__all__ = ["Account", "Comment", "Post", "Social", "SocialState"]

_USERNAME = re.compile(r"^[a-z0-9_]{1,15}$")
_HASHTAG = re.compile(r"(?<![\w#])#(\w*[^\W\d]\w*)")
_MENTION = re.compile(r"(?<![\w@])@(\w{1,15})\b")


class Account(StateModel):
    username: str = Field(description="Unique handle, lowercase letters, digits and '_', e.g. 'alice'.")
    display_name: str = Field(description="Name shown on the profile, e.g. 'Alice Martin'.")
    bio: str = Field(default="", description="Short profile text.")
    password: str = Field(description="Password checked by social_log_in (mock service: stored in clear).")
    joined_at: str = Field(description="ISO 8601 time the account was created.")
    verified: bool = Field(default=False, description="Whether the account carries a verified badge.")
    following: list[str] = Field(default_factory=list, description="Usernames this account follows, in order.")


class Post(StateModel):
    post_id: str = Field(description="Unique id, e.g. 'POST0001'.")
    author: str = Field(description="Username of the author (or of the reposter for a repost).")
    content: str = Field(description="Text of the post; empty for a repost.")
    created_at: str = Field(description="ISO 8601 time the post was published.")
    repost_of: str | None = Field(default=None, description="Id of the original post when this is a repost.")
    liked_by: list[str] = Field(default_factory=list, description="Usernames that liked the post, in order.")


class Comment(StateModel):
    comment_id: str = Field(description="Unique id, e.g. 'CMT0001'.")
    post_id: str = Field(description="Id of the post commented on.")
    author: str = Field(description="Username of the commenter.")
    content: str = Field(description="Text of the comment.")
    created_at: str = Field(description="ISO 8601 time the comment was written.")


class SocialState(StateModel):
    accounts: dict[str, Account] = Field(description="Every account by username.")
    posts: dict[str, Post] = Field(default_factory=dict, description="Every post and repost by post id.")
    comments: dict[str, Comment] = Field(default_factory=dict, description="Every comment by comment id.")
    current_user: str | None = Field(default=None, description="Username logged in, or null when logged out.")
    max_post_length: int = Field(default=280, ge=1, description="Most characters a post or comment may have.")
    next_post_number: int = Field(default=1, ge=1, description="Number used for the next post id.")
    next_comment_number: int = Field(default=1, ge=1, description="Number used for the next comment id.")
    clock: str = Field(default="2026-03-02T12:00:00", description="Service time; advances one minute per write.")

    @model_validator(mode="after")
    def _check_references(self) -> "SocialState":
        for username, account in self.accounts.items():
            if account.username != username or not _USERNAME.match(username):
                raise ValueError(f"accounts: key {username!r} must equal a lowercase username {account.username!r}")
            for other in account.following:
                if other not in self.accounts or other == username:
                    raise ValueError(f"accounts: {username!r} follows unknown or self {other!r}")
            if len(set(account.following)) != len(account.following):
                raise ValueError(f"accounts: {username!r} follows someone twice")
        for post_id, post in self.posts.items():
            if post.post_id != post_id:
                raise ValueError(f"posts: key {post_id!r} does not match post_id {post.post_id!r}")
            if post.author not in self.accounts or any(u not in self.accounts for u in post.liked_by):
                raise ValueError(f"posts: {post_id!r} names an unknown account")
            original = self.posts.get(post.repost_of or "")
            if post.repost_of is not None and (original is None or original.repost_of is not None or post.content):
                raise ValueError(f"posts: {post_id!r} must repost an existing original post and have no content")
            if post.repost_of is None and not post.content.strip():
                raise ValueError(f"posts: {post_id!r} has no content")
            _check_number(post_id, "POST", self.next_post_number)
        for comment_id, comment in self.comments.items():
            if comment.comment_id != comment_id or comment.post_id not in self.posts:
                raise ValueError(f"comments: {comment_id!r} has a wrong key or an unknown post")
            if comment.author not in self.accounts:
                raise ValueError(f"comments: {comment_id!r} names an unknown account")
            _check_number(comment_id, "CMT", self.next_comment_number)
        if self.current_user is not None and self.current_user not in self.accounts:
            raise ValueError(f"current_user: unknown account {self.current_user!r}")
        datetime.fromisoformat(self.clock)
        return self


class LoginStatus(BaseModel):
    logged_in: bool = Field(description="Whether an account is logged in.")
    username: str | None = Field(description="The logged-in username, or null.")


class Profile(BaseModel):
    username: str = Field(description="The account's username.")
    display_name: str = Field(description="Name shown on the profile.")
    bio: str = Field(description="Profile text.")
    verified: bool = Field(description="Whether the account is verified.")
    joined_at: str = Field(description="When the account was created (ISO 8601).")
    followers_count: int = Field(description="Accounts following this one.")
    following_count: int = Field(description="Accounts this one follows.")
    posts_count: int = Field(description="Posts and reposts published by this account.")
    followed_by_you: bool | None = Field(description="Whether the logged-in account follows it; null when logged out.")


class AccountSummary(BaseModel):
    username: str = Field(description="The account's username.")
    display_name: str = Field(description="Name shown on the profile.")
    verified: bool = Field(description="Whether the account is verified.")


class AccountList(BaseModel):
    accounts: list[AccountSummary] = Field(description="Accounts, sorted by username.")
    usernames: list[str] = Field(description="The same accounts' usernames, in the same order.")


class PostView(BaseModel):
    post_id: str = Field(description="Id of the post.")
    author: str = Field(description="Username of the author (the reposter, for a repost).")
    content: str = Field(description="Text of the post; empty for a repost (see repost_of).")
    hashtags: list[str] = Field(description="Hashtags in the text, lowercase, without '#'.")
    mentions: list[str] = Field(description="Usernames @mentioned in the text that exist on the service.")
    created_at: str = Field(description="When it was published (ISO 8601).")
    repost_of: str | None = Field(description="Id of the original post when this is a repost, else null.")
    like_count: int = Field(description="Number of likes.")
    repost_count: int = Field(description="Number of reposts.")
    comment_count: int = Field(description="Number of comments.")


class PostList(BaseModel):
    posts: list[PostView] = Field(description="Posts, newest first.")
    post_ids: list[str] = Field(description="The same posts' ids, in the same order.")


class DeletedPost(BaseModel):
    deleted_post_id: str = Field(description="Id of the post removed.")
    removed_comments: int = Field(description="Comments removed with it.")
    removed_reposts: int = Field(description="Reposts of it removed with it.")


class LikeResult(BaseModel):
    post_id: str = Field(description="Id of the (original) post liked or unliked.")
    liked: bool = Field(description="Whether the logged-in account now likes the post.")
    like_count: int = Field(description="The post's number of likes afterwards.")


class CommentList(BaseModel):
    comments: list[Comment] = Field(description="Comments, oldest first.")
    comment_ids: list[str] = Field(description="The same comments' ids, in the same order.")


class DeletedComment(BaseModel):
    deleted_comment_id: str = Field(description="Id of the comment removed.")
    post_id: str = Field(description="Id of the post it was on.")


class FollowResult(BaseModel):
    username: str = Field(description="The account followed or unfollowed.")
    following: bool = Field(description="Whether the logged-in account now follows it.")
    followers_count: int = Field(description="That account's number of followers afterwards.")


class Trend(BaseModel):
    hashtag: str = Field(description="Hashtag, lowercase, without '#'.")
    post_count: int = Field(description="Number of posts using it.")


class TrendList(BaseModel):
    trends: list[Trend] = Field(description="Hashtags, most used first; ties in alphabetical order.")
    hashtags: list[str] = Field(description="The same hashtags, in the same order.")


Username = Annotated[str, Field(description="A username such as 'alice' (a leading '@' is ignored).")]
PostId = Annotated[str, Field(description="A post id such as 'POST0003'.")]
Limit = Annotated[int, Field(description="Most posts to return.", ge=1, le=100)]
Text = Annotated[str, Field(description="Text to publish; #hashtags and @mentions are detected.", min_length=1)]


class Social(Environment):
    name = "social"
    description = "A microblogging service: post, comment, like, repost, follow, search hashtags and mentions."
    state_model = SocialState
    state: SocialState

    @tool(
        consumes={"username": "username"},
        provides=["social_logged_in"],
        asks=[
            "Log into my social account as {username}; my password is {password}.",
            "Sign me in on the social app as {username}, the password is {password}.",
            "Could you sign into the social network for me? I'm {username}, password {password}.",
            "My social handle is {username} and the password is {password}, so please log me in.",
            "Use {username} and the password {password} to get me into my social account.",
            "Hi, it's {username} with the password {password}; please sign me into the social app.",
            "Could I get logged in to the social network? Username {username}, password {password}.",
            "With the password {password}, log me in to the social app as {username}.",
        ],
        answers=[
            "You're signed in to the social network as @{username}.",
            "Logged in as @{username}; you can post, like and follow now.",
        ],
    )
    def social_log_in(
        self, username: Username, password: Annotated[str, Field(description="The account's password.")]
    ) -> LoginStatus:
        """Log in to the social service. Needed before posting, commenting, liking, reposting or following."""
        account = self._account(username)
        if self.state.current_user is not None:
            raise PreconditionFailed(f"already logged in as {self.state.current_user}; call social_log_out first")
        if password != account.password:
            raise InvalidArgument(f"wrong password for {account.username}; check the password and try again")
        self.state.current_user = account.username
        return LoginStatus(logged_in=True, username=account.username)

    @tool(
        requires=["social_logged_in"],
        asks=[
            "Log me out of the social app.",
            "Sign me out of my social account.",
            "Can you end my session on the social network?",
            "I'm done posting for today, so please log me out.",
            "Time to sign out of the social app.",
        ],
        answers=["You're logged out of the social network.", "Signed out; nobody is logged in to the social app now."],
    )
    def social_log_out(self) -> LoginStatus:
        """Log the current account out of the social service."""
        self._me()
        self.state.current_user = None
        return LoginStatus(logged_in=False, username=None)

    @tool(
        read_only=True,
        asks=[
            "Am I logged in to the social app?",
            "Which social account am I signed in with?",
            "Is my social account still signed in?",
            "Whose account is active on the social app right now?",
            "Tell me if anyone is signed in on the social network.",
        ],
        answers=[
            "[You're logged in to the social network as "
            "@{username}.]{logged_in?|Nobody is logged in to the social app.}",
            "{logged_in?Yes, you are signed in|No, nobody is signed in}[ as @{username}].",
        ],
    )
    def social_get_login_status(self) -> LoginStatus:
        """Tell whether an account is logged in to the social service, and which."""
        return LoginStatus(logged_in=self.state.current_user is not None, username=self.state.current_user)

    @tool(
        read_only=True,
        produces={"usernames": "username"},
        asks=[
            'Search for accounts matching "{query}".',
            "Which accounts on the social network go by {query}?",
            "Can you look up people whose name includes {query}?",
            'What\'s the username of the account called "{query}"?',
            'Look for social accounts with "{query}" in the name.',
            "(Find|Look up|Search for|Show me) (the accounts|any accounts|social accounts|people) "
            '(matching|called|named) "{query}"( on the network| for me|).',
        ],
        answers=[
            'I searched for "{@query}" and found {accounts#}: {usernames}.',
            "Accounts matching {@query}: {usernames}.",
        ],
    )
    def search_accounts(
        self, query: Annotated[str, Field(description="Part of a username or display name, any case.", min_length=1)]
    ) -> AccountList:
        """Find accounts whose username or display name contains the query. No login needed."""
        needle = _needle(query.lstrip("@"))
        found = [a for a in self.state.accounts.values() if needle in a.username or needle in a.display_name.lower()]
        return self._account_list(a.username for a in found)

    @tool(
        read_only=True,
        consumes={"username": "username"},
        asks=[
            "Show me {username}'s profile.",
            "How many followers does {username} have?",
            "Would you bring up the social profile of {username}?",
            "Give me {username}'s profile and follower count.",
            "Look up {username} on the social network for me.",
            "(Show me|Pull up|Bring up|Give me) (the profile of|the social profile of|the profile page of) "
            "{username}( on the network| for me|).",
            "(How many followers does|What does the profile of) {username} (have|look like)( on the network| right "
            "now|)?",
        ],
        answers=[
            "Profile of @{username} ({display_name}). Followers: {followers_count}. Following: {following_count}. "
            "Posts: {posts_count}.",
            "The account belongs to {display_name}, who joined on {joined_at}{verified? and is verified|}; the "
            "follower count is {followers_count}.[ {followed_by_you?You follow them.|You don't follow them yet.}]",
        ],
    )
    def get_social_profile(self, username: Username) -> Profile:
        """Show an account's profile with follower, following and post counts. No login needed."""
        account = self._account(username)
        me = self.state.current_user
        return Profile(
            username=account.username,
            display_name=account.display_name,
            bio=account.bio,
            verified=account.verified,
            joined_at=account.joined_at,
            followers_count=len(self._followers(account.username)),
            following_count=len(account.following),
            posts_count=sum(p.author == account.username for p in self.state.posts.values()),
            followed_by_you=None if me is None else account.username in self.state.accounts[me].following,
        )

    @tool(
        requires=["social_logged_in"],
        asks=[
            'Update my profile[ to show the name "{display_name}"][; my new bio is "{bio}"]',
            'Can you update my social profile?[ I\'d like the display name "{display_name}".][ The bio should say '
            '"{bio}"]',
            'I\'d like my profile updated[ so it shows "{display_name}" as my name][, with the bio "{bio}"]',
            'I want a new look for my profile.[ Call me "{display_name}" from now on.][ Put "{bio}" in my bio.]',
            'Please edit my profile[, changing my display name to "{display_name}"][, setting my bio to "{bio}"]',
        ],
        answers=[
            'Your profile is updated.[ {@display_name} is your new display name.][ Your bio now reads "{@bio}"]',
            "Saved: {display_name} is now the name on the profile of @{username}.",
        ],
    )
    def update_social_profile(
        self,
        display_name: Annotated[
            str | None, Field(description="New display name (1-50 characters); null keeps it.", max_length=50)
        ] = None,
        bio: Annotated[str | None, Field(description="New bio (at most 160 characters); null keeps it.")] = None,
    ) -> Profile:
        """Change the logged-in account's display name and/or bio. Give at least one of them."""
        account = self.state.accounts[self._me()]
        if display_name is None and bio is None:
            raise InvalidArgument("give a new display_name, a new bio, or both")
        if display_name is not None and not 1 <= len(display_name.strip()) <= 50:
            raise InvalidArgument("display_name must have 1 to 50 characters")
        if bio is not None and len(bio) > 160:
            raise InvalidArgument(f"bio has {len(bio)} characters; the limit is 160")
        if display_name is not None:
            account.display_name = display_name.strip()
        if bio is not None:
            account.bio = bio
        return self.get_social_profile(account.username)

    @tool(
        requires=["social_logged_in"],
        produces={"post_id": "post_id", "hashtags": "hashtag", "mentions": "username"},
        asks=[
            'Post "{content}" on my social account.',
            'Can you publish "{content}" for me?',
            'Share "{content}" with my followers.',
            'Put up a new post saying "{content}"',
            'Tweet "{content}" from my account.',
        ],
        answers=["Your post is live as {post_id}.", "Published at {created_at}: your new post is {post_id}."],
    )
    def create_post(self, content: Text) -> PostView:
        """Publish a post as the logged-in account; it fails when empty or over the length limit (280 by default)."""
        me = self._me()
        self._check_text(content, "post")
        post = Post(
            post_id=f"POST{self.state.next_post_number:04d}", author=me, content=content, created_at=self._tick()
        )
        self.state.posts[post.post_id] = post
        self.state.next_post_number += 1
        return self._view(post)

    @tool(
        read_only=True,
        consumes={"post_id": "post_id"},
        produces={"author": "username"},
        asks=[
            "Let me have a look at {post_id}.",
            "How many likes and comments does {post_id} have?",
            "Could you open {post_id} for me?",
            "I'd like the details of {post_id}.",
            "Open {post_id} on the social network.",
        ],
        answers=[
            "Post {post_id} is by @{author}[, a repost of {repost_of}]. Likes: {like_count}. Reposts: {repost_count}. "
            "Comments: {comment_count}.",
            "Published by @{author} at {created_at}, post {post_id} has a like count of {like_count} and a comment "
            "count of {comment_count}.",
        ],
    )
    def get_post(self, post_id: PostId) -> PostView:
        """Show one post with its hashtags, mentions and like, repost and comment counts. No login needed."""
        return self._view(self._post(post_id))

    @tool(
        requires=["social_logged_in"],
        consumes={"post_id": "post_id"},
        asks=[
            "Delete {post_id} from my profile.",
            "Take down {post_id}.",
            "Would you remove {post_id}? I posted it by mistake.",
            "Please wipe {post_id} from my account.",
            "Get rid of {post_id}, it's one of mine.",
        ],
        answers=[
            "Post {deleted_post_id} is deleted. Comments removed with it: {removed_comments}. Reposts removed with "
            "it: {removed_reposts}.",
            "Removed {deleted_post_id}, together with its comments ({removed_comments}) and reposts "
            "({removed_reposts}).",
        ],
    )
    def delete_post(self, post_id: PostId) -> DeletedPost:
        """Delete one of the logged-in account's own posts or reposts, with its comments and reposts."""
        post = self._post(post_id)
        if post.author != self._me():
            raise PreconditionFailed(f"{post_id} was posted by {post.author}; you can only delete your own posts")
        doomed = {post_id} | {p.post_id for p in self.state.posts.values() if p.repost_of == post_id}
        comments = [c.comment_id for c in self.state.comments.values() if c.post_id in doomed]
        for comment_id in comments:
            del self.state.comments[comment_id]
        for doomed_id in doomed:
            del self.state.posts[doomed_id]
        return DeletedPost(deleted_post_id=post_id, removed_comments=len(comments), removed_reposts=len(doomed) - 1)

    @tool(
        requires=["social_logged_in"],
        consumes={"post_id": "post_id"},
        produces={"post_id": "post_id"},
        asks=[
            "Repost {post_id}.",
            "Can you share {post_id} with my followers?",
            "Please repost {post_id} on my account.",
            "Boost {post_id} to my followers.",
            "Share {post_id} on my timeline.",
        ],
        answers=[
            "Reposted {repost_of}; your repost is {post_id}.",
            "Your followers will now see {repost_of} (your repost is {post_id}).",
        ],
    )
    def repost_post(self, post_id: PostId) -> PostView:
        """Repost a post to the logged-in account's followers; reposting a repost reposts its original.

        Returns the new repost (its own post_id, repost_of the original). Each post can be reposted once.
        """
        me = self._me()
        original = self._original(post_id)
        if any(p.repost_of == original.post_id and p.author == me for p in self.state.posts.values()):
            raise PreconditionFailed(f"you already reposted {original.post_id}; delete that repost to undo it")
        repost = Post(
            post_id=f"POST{self.state.next_post_number:04d}",
            author=me,
            content="",
            created_at=self._tick(),
            repost_of=original.post_id,
        )
        self.state.posts[repost.post_id] = repost
        self.state.next_post_number += 1
        return self._view(repost)

    @tool(
        requires=["social_logged_in"],
        consumes={"post_id": "post_id"},
        asks=[
            "Like {post_id}.",
            "Can you like {post_id} for me?",
            "Give {post_id} a like from me.",
            "Hit like on {post_id}.",
            "Leave a like on {post_id} from my account.",
        ],
        answers=[
            "You now like {post_id}; its like count is {like_count}.",
            "Liked {post_id}; the like count is now {like_count}.",
        ],
    )
    def like_post(self, post_id: PostId) -> LikeResult:
        """Like a post as the logged-in account; liking a repost likes its original."""
        me, post = self._me(), self._original(post_id)
        if me in post.liked_by:
            raise PreconditionFailed(f"you already like {post.post_id}")
        post.liked_by = [*post.liked_by, me]
        return LikeResult(post_id=post.post_id, liked=True, like_count=len(post.liked_by))

    @tool(
        requires=["social_logged_in"],
        consumes={"post_id": "post_id"},
        asks=[
            "Unlike {post_id}.",
            "Take my like off {post_id}.",
            "Could you pull my like from {post_id}?",
            "I liked {post_id} by accident, undo that.",
            "I don't want to be liking {post_id} anymore.",
        ],
        answers=[
            "Your like is off {post_id}; likes now stand at {like_count}.",
            "Removed your like from {post_id}; its like count is back to {like_count}.",
        ],
    )
    def unlike_post(self, post_id: PostId) -> LikeResult:
        """Remove the logged-in account's like from a post (or from a repost's original)."""
        me, post = self._me(), self._original(post_id)
        if me not in post.liked_by:
            raise PreconditionFailed(f"you have not liked {post.post_id}")
        post.liked_by = [u for u in post.liked_by if u != me]
        return LikeResult(post_id=post.post_id, liked=False, like_count=len(post.liked_by))

    @tool(
        requires=["social_logged_in"],
        consumes={"post_id": "post_id"},
        produces={"comment_id": "comment_id"},
        asks=[
            'Comment "{content}" on {post_id}.',
            'Reply to {post_id} with "{content}".',
            'Can you leave a comment on {post_id} saying "{content}"?',
            'Write "{content}" under {post_id} for me.',
            'Put "{content}" under {post_id} as my comment.',
        ],
        answers=[
            "Your comment is posted on {post_id} as {comment_id}.",
            'Commented on {post_id} ("{content}"); the comment id is {comment_id}.',
        ],
    )
    def comment_on_post(self, post_id: PostId, content: Text) -> Comment:
        """Comment on a post as the logged-in account (a comment on a repost goes to its original)."""
        me, post = self._me(), self._original(post_id)
        self._check_text(content, "comment")
        comment = Comment(
            comment_id=f"CMT{self.state.next_comment_number:04d}",
            post_id=post.post_id,
            author=me,
            content=content,
            created_at=self._tick(),
        )
        self.state.comments[comment.comment_id] = comment
        self.state.next_comment_number += 1
        return comment

    @tool(
        read_only=True,
        consumes={"post_id": "post_id"},
        produces={"comment_ids": "comment_id"},
        asks=[
            "Let me see the comments on {post_id}.",
            "What are people saying under {post_id}?",
            "Which comments has {post_id} gotten?",
            "Read me the replies to {post_id}.",
            "How many comments does {post_id} have?",
        ],
        answers=[
            "I count {comments#} comments on {@post_id}[: {comment_ids}].",
            "Comments on {@post_id}: {comment_ids}.",
        ],
    )
    def list_post_comments(self, post_id: PostId) -> CommentList:
        """List the comments on a post (on its original, for a repost), oldest first. No login needed."""
        post = self._original(post_id)
        ordered = sorted(
            (c for c in self.state.comments.values() if c.post_id == post.post_id),
            key=lambda c: (c.created_at, c.comment_id),
        )
        return CommentList(comments=ordered, comment_ids=[c.comment_id for c in ordered])

    @tool(
        requires=["social_logged_in"],
        consumes={"comment_id": "comment_id"},
        asks=[
            "Delete {comment_id}.",
            "Remove {comment_id} from the thread.",
            "Can you take down {comment_id}?",
            "Scrap {comment_id}, please.",
            "Get rid of {comment_id} for me.",
        ],
        answers=[
            "Comment {deleted_comment_id} is removed from {post_id}.",
            "Deleted {deleted_comment_id} from the thread under {post_id}.",
        ],
    )
    def delete_post_comment(
        self, comment_id: Annotated[str, Field(description="A comment id such as 'CMT0002'.")]
    ) -> DeletedComment:
        """Delete a comment the logged-in account wrote, or any comment on one of its own posts."""
        me = self._me()
        comment = self.state.comments.get(comment_id)
        if comment is None:
            raise NotFound(f"no comment {comment_id!r}; see list_post_comments")
        if me not in (comment.author, self.state.posts[comment.post_id].author):
            raise PreconditionFailed(f"{comment_id} is {comment.author}'s comment on someone else's post")
        del self.state.comments[comment_id]
        return DeletedComment(deleted_comment_id=comment_id, post_id=comment.post_id)

    @tool(
        requires=["social_logged_in"],
        consumes={"username": "username"},
        asks=[
            "Follow {username}.",
            "Can you follow {username} for me?",
            "Put {username}'s posts in my feed by following them.",
            "Start following {username}.",
            "Add {username} to the accounts I follow.",
        ],
        answers=[
            "You now follow @{username}; their follower count is {followers_count}.",
            "You're following @{username} now.",
        ],
    )
    def follow_user(self, username: Username) -> FollowResult:
        """Follow an account as the logged-in account, so its posts appear in the home timeline."""
        me, other = self.state.accounts[self._me()], self._account(username).username
        if other == me.username:
            raise InvalidArgument("you cannot follow yourself")
        if other in me.following:
            raise PreconditionFailed(f"you already follow {other}")
        me.following = [*me.following, other]
        return FollowResult(username=other, following=True, followers_count=len(self._followers(other)))

    @tool(
        requires=["social_logged_in"],
        consumes={"username": "username"},
        asks=[
            "Unfollow {username}.",
            "Stop following {username}.",
            "Can you unfollow {username} for me?",
            "I don't want {username} in my feed anymore.",
            "Remove {username} from the accounts I follow.",
        ],
        answers=[
            "You no longer follow @{username}; their follower count is down to {followers_count}.",
            "Unfollowed @{username}.",
        ],
    )
    def unfollow_user(self, username: Username) -> FollowResult:
        """Stop following an account the logged-in account follows."""
        me, other = self.state.accounts[self._me()], self._account(username).username
        if other not in me.following:
            raise PreconditionFailed(f"you do not follow {other}")
        me.following = [u for u in me.following if u != other]
        return FollowResult(username=other, following=False, followers_count=len(self._followers(other)))

    @tool(
        read_only=True,
        consumes={"username": "username"},
        produces={"usernames": "username"},
        asks=[
            "Who follows {username}?",
            "Show me {username}'s followers.",
            "Could you list the people following {username}?",
            "Give me the follower list of {username}.",
            "List everyone who follows {username}.",
            "(Show me|List|Pull up|Give me) (everyone who follows|the followers of|all the accounts following) "
            "{username}( on the network| right now|).",
            "(Who|Which accounts) (follow|are following|keep up with) {username}( these days| at the moment| on the "
            "network|)?",
        ],
        answers=[
            "The accounts following {@username} are {usernames} ({accounts#} in all).",
            "Followers of {@username}: {usernames}.",
        ],
    )
    def list_followers(self, username: Username) -> AccountList:
        """List the accounts that follow an account. No login needed."""
        return self._account_list(self._followers(self._account(username).username))

    @tool(
        read_only=True,
        consumes={"username": "username"},
        produces={"usernames": "username"},
        asks=[
            "Who does {username} follow?",
            "Tell me which accounts {username} follows.",
            "Would you list who {username} is following?",
            "Let me see everyone {username} follows.",
            "Which accounts does {username} keep up with?",
            "(Show me|List|Pull up|Give me) (the accounts|everyone|the people) {username} (follows|is "
            "following|keeps up with)( on the network| right now|).",
            "(Which accounts|Who) (does {username} follow|is {username} following)( these days| at the moment| on "
            "the network|)?",
        ],
        answers=[
            "The accounts {@username} follows are {usernames} ({accounts#} in all).",
            "Accounts followed by {@username}: {usernames}.",
        ],
    )
    def list_following(self, username: Username) -> AccountList:
        """List the accounts an account follows. No login needed."""
        return self._account_list(self._account(username).following)

    @tool(
        read_only=True,
        consumes={"username": "username"},
        produces={"post_ids": "post_id"},
        asks=[
            "Show me {username}'s posts[{include_reposts?| but skip the reposts}][, just the latest {limit}].",
            "What has {username} been posting[{include_reposts?| apart from reposts}]?[ The last {limit} are enough.]",
            "Could you list the [{limit} ]most recent posts by "
            "{username}[{include_reposts?, reposts included| (original posts only)}]?",
            "Help me catch up on {username}'s [{limit} ]latest posts[{include_reposts?| without the reposts}].",
            "Pull up the posts {username} has published[{include_reposts?, including reposts| (no reposts)}][, up to "
            "{limit}].",
            "(Show me|List|Pull up|Bring up) (the posts|the latest posts|what) {username} (has posted|has been "
            "posting|has shared)[, up to {limit}].",
        ],
        answers=["I found {posts#} posts by {@username}: {post_ids}.", "Latest from {@username}: {post_ids}."],
    )
    def get_user_posts(
        self,
        username: Username,
        include_reposts: Annotated[bool, Field(description="Also list the account's reposts.")] = True,
        limit: Limit = 20,
    ) -> PostList:
        """List an account's posts, newest first. No login needed."""
        name = self._account(username).username
        posts = (p for p in self.state.posts.values() if p.author == name and (include_reposts or not p.repost_of))
        return self._post_list(posts, limit)

    @tool(
        read_only=True,
        requires=["social_logged_in"],
        produces={"post_ids": "post_id"},
        asks=[
            "What's new on my timeline?[ Show me the latest {limit}.]",
            "Show me my home feed[, the {limit} newest posts].",
            "Could you refresh my timeline[ (just {limit} posts)]?",
            "Catch me up on posts from the people I follow[; {limit} is enough].",
            "Load my feed[, up to {limit} posts].",
            "(Show me|Load|Pull up|Bring up) (my timeline|my home feed|the latest posts from people I follow)[, "
            "{limit} posts].",
            "(What's|What is) (new|happening|going on) (on my timeline|in my feed|with the people I follow)( today| "
            "lately|)?[ Show me {limit}.]",
            "(Show me|Load|Pull up|Bring up) (my timeline|my home feed|the latest posts from people I follow)[, "
            "{limit} posts].",
            "(What's|What is) (new|happening|going on) (on my timeline|in my feed|with the people I follow)( today| "
            "lately|)?[ Show me {limit}.]",
        ],
        answers=["Your timeline shows {posts#} posts: {post_ids}.", "Newest in your feed: {post_ids}."],
    )
    def get_home_timeline(self, limit: Limit = 20) -> PostList:
        """List the posts and reposts of the accounts the logged-in account follows, and its own, newest first."""
        me = self._me()
        authors = {me, *self.state.accounts[me].following}
        return self._post_list((p for p in self.state.posts.values() if p.author in authors), limit)

    @tool(
        read_only=True,
        produces={"post_ids": "post_id"},
        asks=[
            'Search posts for "{keyword}"[, at most {limit}].',
            "Are people posting about {keyword}?[ Show me up to {limit}.]",
            'Look for posts that mention "{keyword}"[ (the {limit} newest)].',
            "Tell me what people have written about {keyword}[, {limit} posts at most].",
            'Any posts containing "{keyword}"[, the latest {limit} at most]?',
            "(Find|Search for|Look up|Show me) (posts|any posts|the posts) (about|that mention|containing) "
            '"{keyword}"[, at most {limit}].',
        ],
        answers=[
            'I found {posts#} posts mentioning "{@keyword}"[, namely {post_ids}].',
            "Posts about {@keyword}: {post_ids}.",
        ],
    )
    def search_posts(
        self,
        keyword: Annotated[str, Field(description="Text to look for, case-insensitive.", min_length=1)],
        limit: Limit = 20,
    ) -> PostList:
        """Find original posts (not reposts) whose text contains a keyword, newest first. No login needed."""
        needle = _needle(keyword)
        return self._post_list((p for p in self.state.posts.values() if needle in p.content.lower()), limit)

    @tool(
        read_only=True,
        consumes={"hashtag": "hashtag"},
        produces={"post_ids": "post_id"},
        asks=[
            "What's being posted under #{hashtag}?[ The latest {limit} are enough.]",
            "Show me the #{hashtag} posts[, up to {limit}].",
            "Would you list posts that use the hashtag {hashtag}[ (newest {limit})]?",
            "Let me browse #{hashtag}[, {limit} posts at most].",
            "Pull up the [{limit} ]latest posts with #{hashtag}.",
            "(Show me|List|Pull up|Bring up) (the posts|the latest posts|everything posted) (tagged|under|with the "
            "hashtag) #{hashtag}[, up to {limit}].",
        ],
        answers=["#{@hashtag} appears in {posts#} posts: {post_ids}.", "Latest under #{@hashtag}: {post_ids}."],
    )
    def list_hashtag_posts(
        self,
        hashtag: Annotated[str, Field(description="A hashtag such as 'python' (a leading '#' is ignored).")],
        limit: Limit = 20,
    ) -> PostList:
        """List the original posts that use a hashtag, newest first. No login needed."""
        tag = hashtag.strip().lstrip("#").lower()
        if not _HASHTAG.fullmatch(f"#{tag}"):
            raise InvalidArgument(f"{hashtag!r} is not a hashtag: use letters, digits and '_', at least one letter")
        return self._post_list((p for p in self.state.posts.values() if tag in _hashtags(p.content)), limit)

    @tool(
        read_only=True,
        requires=["social_logged_in"],
        produces={"post_ids": "post_id"},
        asks=[
            "Who has mentioned me?[ Show the last {limit}.]",
            "Bring up the posts that tag me[, up to {limit}].",
            "Could you list my mentions[ (the latest {limit})]?",
            "Where have people mentioned me lately?[ Up to {limit} posts.]",
            "Check my mentions[, the {limit} newest].",
            "(Show me|List|Pull up|Bring up) (the posts that mention me|my mentions|the posts I'm tagged in)[, the "
            "latest {limit}].",
            "(Who has|Which accounts have) (mentioned|tagged) me (lately|recently|this week)?[ Show me {limit}.]",
            "(Show me|List|Pull up|Bring up) (the posts that mention me|my mentions|the posts I'm tagged in)[, the "
            "latest {limit}].",
            "(Who has|Which accounts have) (mentioned|tagged) me (lately|recently|this week)?[ Show me {limit}.]",
        ],
        answers=["You've been mentioned in {posts#} posts: {post_ids}.", "Posts mentioning you: {post_ids}."],
    )
    def list_mentions(self, limit: Limit = 20) -> PostList:
        """List the posts that @mention the logged-in account, newest first."""
        me = self._me()
        return self._post_list((p for p in self.state.posts.values() if me in self._mentions(p.content)), limit)

    @tool(
        read_only=True,
        produces={"hashtags": "hashtag"},
        asks=[
            "What's trending right now?[ Give me the top {limit}.]",
            "Show me the trending hashtags[, top {limit}].",
            "Which hashtags are the most popular[ (top {limit})]?",
            "Tell me the [{limit} ]hottest hashtags on the network.",
            "Mind listing the top[ {limit}] hashtags?",
            "(Show me|List|Pull up|Give me) the (trending|most popular|hottest) (hashtags|tags|topics)( on the "
            "network| right now| today|)[, top {limit}].",
            "(Which|What) (hashtags|tags|topics) are (trending|popular|hot) (right now|today|at the moment)?[ Give "
            "me {limit}.]",
            "(Show me|List|Pull up|Give me) the (trending|most popular|hottest) (hashtags|tags|topics)( on the "
            "network| right now| today|)[, top {limit}].",
            "(Which|What) (hashtags|tags|topics) are (trending|popular|hot) (right now|today|at the moment)?[ Give "
            "me {limit}.]",
        ],
        answers=["The top hashtags are {hashtags}.", "Trending now: {hashtags} ({trends#} in all)."],
    )
    def get_trending_hashtags(
        self, limit: Annotated[int, Field(description="Most hashtags to return.", ge=1, le=50)] = 10
    ) -> TrendList:
        """Rank the hashtags used on the service by the number of posts using them. No login needed."""
        counts = Counter(tag for p in self.state.posts.values() for tag in _hashtags(p.content))
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
        return TrendList(trends=[Trend(hashtag=t, post_count=n) for t, n in ranked], hashtags=[t for t, _ in ranked])

    def _me(self) -> str:
        if self.state.current_user is None:
            raise PreconditionFailed("no account is logged in; call social_log_in first")
        return self.state.current_user

    def _account(self, username: str) -> Account:
        account = self.state.accounts.get(username.strip().lstrip("@").lower())
        if account is None:
            raise NotFound(f"no account @{username.lstrip('@')}; use search_accounts to find the username")
        return account

    def _post(self, post_id: str) -> Post:
        post = self.state.posts.get(post_id.strip().upper())
        if post is None:
            raise NotFound(f"no post {post_id!r}; it may have been deleted")
        return post

    def _original(self, post_id: str) -> Post:
        post = self._post(post_id)
        return self.state.posts[post.repost_of] if post.repost_of else post

    def _followers(self, username: str) -> list[str]:
        return [a.username for a in self.state.accounts.values() if username in a.following]

    def _mentions(self, content: str) -> list[str]:
        return [u for u in _unique(m.lower() for m in _MENTION.findall(content)) if u in self.state.accounts]

    def _check_text(self, content: str, what: str) -> None:
        if not content.strip():
            raise InvalidArgument(f"the {what} is empty; write some text")
        if len(content) > self.state.max_post_length:
            raise InvalidArgument(
                f"the {what} has {len(content)} characters; the limit is {self.state.max_post_length}, shorten it"
            )

    def _tick(self) -> str:
        self.state.clock = (datetime.fromisoformat(self.state.clock) + timedelta(minutes=1)).isoformat()
        return self.state.clock

    def _view(self, post: Post) -> PostView:
        posts, comments = self.state.posts.values(), self.state.comments.values()
        return PostView(
            post_id=post.post_id,
            author=post.author,
            content=post.content,
            hashtags=_hashtags(post.content),
            mentions=self._mentions(post.content),
            created_at=post.created_at,
            repost_of=post.repost_of,
            like_count=len(post.liked_by),
            repost_count=sum(p.repost_of == post.post_id for p in posts),
            comment_count=sum(c.post_id == post.post_id for c in comments),
        )

    def _post_list(self, posts: Iterable[Post], limit: int) -> PostList:
        ordered = sorted(posts, key=lambda p: (p.created_at, p.post_id), reverse=True)[:limit]
        return PostList(posts=[self._view(p) for p in ordered], post_ids=[p.post_id for p in ordered])

    def _account_list(self, usernames: Iterable[str]) -> AccountList:
        accounts = sorted((self.state.accounts[u] for u in usernames), key=lambda a: a.username)
        return AccountList(
            accounts=[
                AccountSummary(username=a.username, display_name=a.display_name, verified=a.verified) for a in accounts
            ],
            usernames=[a.username for a in accounts],
        )


def _hashtags(content: str) -> list[str]:
    return _unique(tag.lower() for tag in _HASHTAG.findall(content))


def _needle(text: str) -> str:
    if not text.strip():
        raise InvalidArgument("the search text is empty; give a word to look for")
    return text.strip().lower()


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _check_number(item_id: str, prefix: str, next_number: int) -> None:
    match = re.fullmatch(prefix + r"(\d+)", item_id)
    if match and int(match.group(1)) >= next_number:
        raise ValueError(f"{item_id!r} is not below the next number {next_number}; raise the counter")
