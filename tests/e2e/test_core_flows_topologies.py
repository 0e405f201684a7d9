"""The core flows through nginx and gunicorn (2 workers) on Sentinel and on Cluster.

These are the standalone suite's own tests, imported: in this module `stack` and
`expiring_stack` are stacks whose verifier runs on the Sentinel or the Cluster deployment
(conftest's `topology_stack`), so every imported test runs once per topology. They cover
login, silent refresh, the grace window, replay, logout, logout everywhere and revocations
reaching every worker. Left out: the one that drives the session store straight on the
standalone server (its scripts run on each topology in test_store_topologies.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from test_attack_logout import (  # noqa: F401
    test_forged_proof_cannot_log_the_victim_out,
    test_get_logout_everywhere_is_not_a_logout,
    test_logout_answers_only_to_post,
    test_logout_of_one_user_cannot_end_another_users_session_by_naming_it,
    test_token_rotated_out_just_before_logout_is_dead_inside_the_grace_window,
)
from test_attack_refresh_tokens import (  # noqa: F401
    test_expired_access_of_one_user_with_refresh_of_another_never_admits_the_first,
    test_guessed_secret_for_a_live_session_is_denied_and_does_not_end_it,
    test_login_with_an_attackers_planted_session_issues_a_fresh_one,
    test_logins_through_nginx_mint_distinct_256_bit_refresh_tokens,
    test_refresh_token_relabelled_with_another_user_is_denied,
    test_refresh_token_spliced_from_two_sessions_is_denied,
    test_rotation_never_extends_the_absolute_lifetime,
    test_session_left_idle_past_its_timeout_is_denied,
    test_use_before_the_idle_timeout_renews_it,
)
from test_login import (  # noqa: F401
    test_bad_login_input_gets_a_clear_4xx,
    test_cross_site_login_is_refused,
    test_form_login_redirects_to_next_with_both_cookies,
    test_json_login_answers_json_with_both_cookies,
    test_json_login_failures_have_one_body,
    test_login_never_reuses_cookies_it_arrived_with,
    test_login_page_is_a_plain_form,
    test_long_passwords_are_not_truncated,
    test_open_redirect_attempts_fall_back_to_root,
    test_same_origin_browser_login_is_accepted,
    test_signed_out_page_navigation_lands_on_login_and_back,
    test_unknown_user_and_wrong_password_look_the_same,
)
from test_logout import (  # noqa: F401
    test_cross_site_logout_is_refused_and_the_session_survives,
    test_form_logout_redirects_to_the_login_page,
    test_get_on_logout_is_not_a_logout,
    test_logout_clears_both_cookies_with_max_age_zero,
    test_logout_everywhere_ends_every_session_of_the_user_only,
    test_logout_makes_the_old_tokens_fail_long_before_they_expire,
    test_logout_of_one_device_leaves_the_other_signed_in,
    test_logout_with_only_the_refresh_cookie_ends_the_session,
)
from test_revocation_cache import (  # noqa: F401
    test_logout_everywhere_is_heard_by_every_worker_that_cached_a_session,
    test_logout_is_heard_by_every_worker_that_cached_the_session,
    test_session_checks_are_served_from_the_cache,
)
from test_silent_refresh import (  # noqa: F401
    test_expired_access_token_is_refreshed_inside_the_request,
    test_previous_refresh_token_inside_grace_gets_an_access_token_only,
    test_refresh_token_reused_after_grace_window_revokes_the_session,
    test_refresh_token_two_generations_back_revokes_the_session,
    test_rotation_replaces_the_refresh_token_and_keeps_the_session,
    test_twenty_parallel_requests_with_one_expired_token_all_succeed,
)

if TYPE_CHECKING:
    from conftest import Stack

pytestmark = pytest.mark.ha


@pytest.fixture(scope="session")
def stack(topology_stack: Stack) -> Iterator[Stack]:
    """The imported tests' `stack`: one on Sentinel, one on Cluster."""
    yield topology_stack


@pytest.fixture(scope="session")
def expiring_stack(topology_expiring_stack: Stack) -> Iterator[Stack]:
    """The imported tests' `expiring_stack` (2 s access tokens), on each topology."""
    yield topology_expiring_stack
