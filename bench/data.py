"""Seeded data generators: the same seed gives the same users, roles and job parameters, so
anyone re-running a benchmark measures the same data.

Everything goes through Folio's own services (create_user, create_token, start_job), so the
rows look exactly like the ones real use produces (audit entries included). Token secrets are
random by design (secrets module) and cannot be seeded; their length and shape are fixed,
which is all that matters for timing.
"""

import random

from folio.accounts import services as accounts
from folio.accounts.roles import ROLES

DEFAULT_SEED = 20250101


def accounts_dataset(*, users: int, tokens_per_user: int, seed: int = DEFAULT_SEED) -> dict:
    """`users` users with seeded names and roles, each with `tokens_per_user` API tokens.

    Returns {"users": [...], "tokens": {username: [token text, …]}, "roles": {role: count}}.
    """
    rng = random.Random(seed)
    role_codes = sorted(ROLES)
    made_users, tokens, role_counts = [], {}, {}
    for i in range(users):
        role = rng.choice(role_codes)
        username = f"{role.replace('_', '-')}-{i:05d}-{rng.randrange(16**6):06x}"
        user = accounts.create_user(username, roles=[role], email=f"{username}@example.test")
        made_users.append(user)
        role_counts[role] = role_counts.get(role, 0) + 1
        tokens[username] = [
            accounts.create_token(user, f"integration {j}")[1] for j in range(tokens_per_user)
        ]
    return {"users": made_users, "tokens": tokens, "roles": role_counts}


def job_params(n: int, *, seed: int = DEFAULT_SEED) -> list[dict]:
    """Parameters for n trivial jobs: small JSON objects like a real job's."""
    rng = random.Random(seed)
    return [{"i": i, "sku": f"SKU-{rng.randrange(10**6):06d}"} for i in range(n)]
