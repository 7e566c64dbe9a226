"""Social: every tool's behaviour, failure modes and dependency chains."""

import pytest

from servers import InvalidArgument, NotFound, PreconditionFailed, create_sandbox, scenario_names
from tests.conftest import refused, run


@pytest.fixture
def box(sandbox_of):
    return sandbox_of("social", "default")


@pytest.fixture
def alice(box):
    run(box, "social_log_in", username="alice", password="sunrise42")
    return box


def social(box):
    return box.state()["social"]


def test_every_scenario_loads():
    names = scenario_names("social")
    assert {"default", "influencer", "new_account", "logged_in", "community"} <= set(names)
    for name in names:
        assert create_sandbox("social", name).state()["social"]["accounts"]
    community = social(create_sandbox("social", "community"))
    assert len(community["accounts"]) == 30 and len(community["posts"]) >= 150
    assert social(create_sandbox("social", "logged_in"))["current_user"] == "maya"


def test_login_status_and_logout(box):
    assert run(box, "social_get_login_status").logged_in is False
    status = run(box, "social_log_in", username="@Alice", password="sunrise42")
    assert status.logged_in and status.username == "alice"
    assert social(box)["current_user"] == "alice"
    assert run(box, "social_get_login_status").username == "alice"
    assert run(box, "social_log_out").logged_in is False
    assert social(box)["current_user"] is None
    refused(box, "social_log_out", PreconditionFailed)


def test_login_failures(box):
    refused(box, "social_log_in", NotFound, username="zed", password="x")
    assert "wrong password" in refused(box, "social_log_in", InvalidArgument, username="alice", password="nope")
    run(box, "social_log_in", username="alice", password="sunrise42")
    refused(box, "social_log_in", PreconditionFailed, username="bob", password="lens2024")


def test_every_write_needs_login(box):
    for tool_name, arguments in [
        ("social_log_out", {}),
        ("update_social_profile", {"bio": "hi"}),
        ("create_post", {"content": "hello"}),
        ("delete_post", {"post_id": "POST0001"}),
        ("repost_post", {"post_id": "POST0002"}),
        ("like_post", {"post_id": "POST0002"}),
        ("unlike_post", {"post_id": "POST0002"}),
        ("comment_on_post", {"post_id": "POST0002", "content": "nice"}),
        ("delete_post_comment", {"comment_id": "CMT0001"}),
        ("follow_user", {"username": "frank"}),
        ("unfollow_user", {"username": "bob"}),
        ("get_home_timeline", {}),
        ("list_mentions", {}),
    ]:
        assert "social_log_in" in refused(box, tool_name, PreconditionFailed, **arguments)


def test_create_post_parses_tags_and_mentions_and_feeds_get_post(alice):
    post = run(alice, "create_post", content="Coffee with @bob and @nobody before the #Python meetup #python #devops")
    assert post.post_id == "POST0012" and post.author == "alice"
    assert post.hashtags == ["python", "devops"] and post.mentions == ["bob"]
    state = social(alice)
    assert state["posts"]["POST0012"]["content"].startswith("Coffee") and state["next_post_number"] == 13
    assert state["clock"] == post.created_at == "2026-03-01T14:56:00"
    fetched = run(alice, "get_post", post_id=post.post_id)
    assert fetched == post
    # produces hashtag -> list_hashtag_posts, mentions -> get_social_profile
    assert run(alice, "list_hashtag_posts", hashtag=f"#{post.hashtags[0]}").post_ids[0] == "POST0012"
    assert run(alice, "get_social_profile", username=post.mentions[0]).display_name == "Bob Okafor"


def test_create_post_failures(alice):
    refused(alice, "create_post", InvalidArgument, content="   ")
    assert "limit is 280" in refused(alice, "create_post", InvalidArgument, content="x" * 281)
    assert run(alice, "create_post", content="y" * 280).post_id == "POST0012"


def test_get_post_counts_and_not_found(box):
    post = run(box, "get_post", post_id="POST0001")
    assert (post.like_count, post.repost_count, post.comment_count) == (2, 0, 2)
    assert run(box, "get_post", post_id="POST0005").repost_count == 1
    repost = run(box, "get_post", post_id="POST0006")
    assert repost.repost_of == "POST0005" and repost.content == ""
    author = run(box, "get_post", post_id="POST0003").author
    assert run(box, "get_user_posts", username=author).post_ids == ["POST0010", "POST0003"]
    refused(box, "get_post", NotFound, post_id="POST0999")


def test_delete_post_cascades(alice):
    result = run(alice, "delete_post", post_id="POST0001")
    assert (result.deleted_post_id, result.removed_comments, result.removed_reposts) == ("POST0001", 2, 0)
    state = social(alice)
    assert "POST0001" not in state["posts"] and "CMT0002" not in state["comments"]
    refused(alice, "delete_post", NotFound, post_id="POST0001")
    assert "only delete your own" in refused(alice, "delete_post", PreconditionFailed, post_id="POST0002")


def test_repost_feeds_delete_and_cannot_repeat(alice):
    repost = run(alice, "repost_post", post_id="POST0006")  # a repost of POST0005: goes to the original
    assert repost.post_id == "POST0012" and repost.repost_of == "POST0005"
    assert social(alice)["posts"]["POST0012"]["author"] == "alice"
    assert run(alice, "get_post", post_id="POST0005").repost_count == 2
    assert "already reposted" in refused(alice, "repost_post", PreconditionFailed, post_id="POST0005")
    refused(alice, "repost_post", NotFound, post_id="POST0999")
    assert run(alice, "delete_post", post_id=repost.post_id).removed_reposts == 0
    assert "POST0012" not in social(alice)["posts"]
    assert run(alice, "repost_post", post_id="POST0005").post_id == "POST0013"


def test_original_post_deletion_removes_reposts(sandbox_of):
    box = sandbox_of("social", "default")
    run(box, "social_log_in", username="erin", password="press#1")
    result = run(box, "delete_post", post_id="POST0005")
    assert result.removed_reposts == 1 and "POST0006" not in social(box)["posts"]


def test_like_and_unlike(alice):
    liked = run(alice, "like_post", post_id="POST0005")
    assert liked.liked and liked.like_count == 3
    assert social(alice)["posts"]["POST0005"]["liked_by"] == ["bob", "dave", "alice"]
    refused(alice, "like_post", PreconditionFailed, post_id="POST0006")  # repost of the same original
    unliked = run(alice, "unlike_post", post_id="POST0005")
    assert not unliked.liked and unliked.like_count == 2
    assert "alice" not in social(alice)["posts"]["POST0005"]["liked_by"]
    refused(alice, "unlike_post", PreconditionFailed, post_id="POST0005")
    refused(alice, "like_post", NotFound, post_id="POST0999")


def test_comments_chain(alice):
    comment = run(alice, "comment_on_post", post_id="POST0002", content="Framing this one.")
    assert comment.comment_id == "CMT0007" and comment.post_id == "POST0002"
    assert social(alice)["comments"]["CMT0007"]["author"] == "alice"
    listed = run(alice, "list_post_comments", post_id="POST0002")
    assert listed.comment_ids == ["CMT0004", "CMT0007"]
    assert run(alice, "delete_post_comment", comment_id=listed.comment_ids[-1]).post_id == "POST0002"
    assert "CMT0007" not in social(alice)["comments"]
    # alice may delete dave's comment on her own post, not erin's comment on bob's post
    assert run(alice, "delete_post_comment", comment_id="CMT0002").deleted_comment_id == "CMT0002"
    refused(alice, "delete_post_comment", PreconditionFailed, comment_id="CMT0004")
    refused(alice, "delete_post_comment", NotFound, comment_id="CMT0099")
    refused(alice, "comment_on_post", InvalidArgument, post_id="POST0002", content="")
    refused(alice, "comment_on_post", InvalidArgument, post_id="POST0002", content="z" * 300)
    refused(alice, "comment_on_post", NotFound, post_id="POST0999", content="hi")
    refused(alice, "list_post_comments", NotFound, post_id="POST0999")


def test_follow_and_unfollow(alice):
    followed = run(alice, "follow_user", username="frank")
    assert followed.following and followed.followers_count == 1
    assert social(alice)["accounts"]["alice"]["following"] == ["bob", "carol", "dave", "frank"]
    assert run(alice, "get_social_profile", username="frank").followed_by_you is True
    refused(alice, "follow_user", PreconditionFailed, username="frank")
    refused(alice, "follow_user", InvalidArgument, username="alice")
    refused(alice, "follow_user", NotFound, username="ghost")
    unfollowed = run(alice, "unfollow_user", username="bob")
    assert not unfollowed.following and unfollowed.followers_count == 2
    assert "bob" not in social(alice)["accounts"]["alice"]["following"]
    refused(alice, "unfollow_user", PreconditionFailed, username="erin")


def test_followers_and_following_feed_follow(box):
    assert run(box, "list_followers", username="alice").usernames == ["bob", "carol", "dave"]
    assert run(box, "list_following", username="dave").usernames == ["alice", "bob", "carol"]
    refused(box, "list_followers", NotFound, username="ghost")
    refused(box, "list_following", NotFound, username="ghost")
    run(box, "social_log_in", username="frank", password="baguette7")
    for username in run(box, "list_following", username="bob").usernames:
        run(box, "follow_user", username=username)
    assert social(box)["accounts"]["frank"]["following"] == ["alice", "erin"]


def test_profiles_and_account_search(box):
    profile = run(box, "get_social_profile", username="alice")
    assert (profile.followers_count, profile.following_count, profile.posts_count) == (3, 3, 3)
    assert profile.followed_by_you is None
    found = run(box, "search_accounts", query="walsh")
    assert found.usernames == ["erin"] and found.accounts[0].verified
    assert run(box, "social_log_in", username=found.usernames[0], password="press#1").username == "erin"
    refused(box, "search_accounts", InvalidArgument, query=" ")
    refused(box, "get_social_profile", NotFound, username="ghost")


def test_update_profile(alice):
    profile = run(alice, "update_social_profile", bio="Climbing > coffee")
    assert profile.bio == "Climbing > coffee" and profile.display_name == "Alice Martin"
    run(alice, "update_social_profile", display_name="  Alice M. ")
    assert social(alice)["accounts"]["alice"]["display_name"] == "Alice M."
    refused(alice, "update_social_profile", InvalidArgument)
    refused(alice, "update_social_profile", InvalidArgument, bio="b" * 161)
    refused(alice, "update_social_profile", InvalidArgument, display_name=" ")


def test_user_posts_and_timeline(alice):
    assert run(alice, "get_user_posts", username="alice").post_ids == ["POST0009", "POST0007", "POST0001"]
    assert run(alice, "get_user_posts", username="alice", include_reposts=False, limit=1).post_ids == ["POST0007"]
    refused(alice, "get_user_posts", NotFound, username="ghost")
    timeline = run(alice, "get_home_timeline", limit=4)
    assert timeline.post_ids == ["POST0011", "POST0010", "POST0009", "POST0008"]
    assert "POST0005" not in run(alice, "get_home_timeline", limit=100).post_ids  # erin is not followed


def test_search_hashtags_mentions_and_trends(alice):
    assert run(alice, "search_posts", keyword="SLIDES").post_ids == ["POST0007", "POST0003"]
    refused(alice, "search_posts", InvalidArgument, keyword="  ")
    assert run(alice, "list_mentions").post_ids == ["POST0003"]
    trends = run(alice, "get_trending_hashtags", limit=3)
    assert trends.hashtags == ["python", "marathon", "photography"]
    assert trends.trends[0].post_count == 3
    assert run(alice, "list_hashtag_posts", hashtag=trends.hashtags[1]).post_ids == ["POST0008", "POST0004"]
    refused(alice, "list_hashtag_posts", InvalidArgument, hashtag="#12")
    run(alice, "social_log_out")
    run(alice, "social_log_in", username="bob", password="lens2024")
    mention = run(alice, "list_mentions").posts[0]
    assert mention.post_id == "POST0008" and "bob" in mention.mentions


def test_scenarios_have_their_shape(sandbox_of):
    influencer = sandbox_of("social", "influencer")
    profile = run(influencer, "get_social_profile", username="chef_marco")
    assert profile.verified and profile.posts_count == 40 and profile.followers_count == 20
    new = sandbox_of("social", "new_account")
    profile = run(new, "get_social_profile", username="newbie_sam")
    assert (profile.followers_count, profile.following_count, profile.posts_count) == (0, 0, 0)
    run(new, "social_log_in", username="newbie_sam", password="firstday2026")
    assert run(new, "list_mentions").post_ids == [] and run(new, "get_home_timeline").post_ids == []
    maya = sandbox_of("social", "logged_in")
    assert run(maya, "social_get_login_status").username == "maya"
    assert len(run(maya, "list_mentions").post_ids) == 3
    community = sandbox_of("social", "community")
    assert len(run(community, "get_trending_hashtags", limit=50).hashtags) >= 10


def test_same_calls_same_state_hash():
    def play(seed):
        box = create_sandbox("social", "community", seed)
        run(box, "social_log_in", username="jade_m", password="jade328")
        post = run(box, "create_post", content="Trail run at dawn #hiking @omar_h")
        run(box, "comment_on_post", post_id=post.post_id, content="Who's in?")
        run(box, "repost_post", post_id="POST0001")
        run(box, "follow_user", username="finn_g")
        run(box, "like_post", post_id=post.post_id)
        return box.state_hash()

    assert play(1) == play(1)
    assert play(1) == play(2)  # the service draws no randomness
