"""The old FastAPI service's Locust workload (shared/BASELINE.md), unchanged in
kind, weights, waits, tasks, payloads and success checks, so authd's figures
compare like for like with the old service's published ones.

    locust -f perf/locustfile.py --headless -u 300 -r 10 -t 60s -H http://127.0.0.1:8000

`go tool task perf:locust USERS=300 SPAWN=10 DURATION=60s` runs it against a
fresh authd and writes the reports under perf/results/.
"""

import os
import random
import string

from locust import FastHttpUser, HttpUser, between, task

# LOCUST_CLIENT=fast (perf/lab.py --client fast) swaps Locust's
# requests-based client for its geventhttpclient one: the same requests,
# payloads and checks for a fraction of the load generator's CPU, which
# matters when Locust shares the cores with the server it measures. The
# default stays the old service's client, so published figures compare
# like for like.
Base = FastHttpUser if os.environ.get("LOCUST_CLIENT") == "fast" else HttpUser

PASSWORD = "strongpass123"


def random_email(prefix):
    suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=8))
    return f"{prefix}_{suffix}@example.com"


def register(client, prefix):
    """Registers a new random account; returns its email or None."""
    email = random_email(prefix)
    with client.post(
        "/auth/register",
        json={"name": "Load Test User", "email": email, "password": PASSWORD},
        name="/auth/register",
        catch_response=True,
    ) as resp:
        if resp.status_code == 201:
            resp.success()
            return email
        resp.failure(f"register: {resp.status_code}")
    return None


def login(client, email):
    """Logs in; returns the access token or None."""
    with client.post(
        "/auth/login",
        json={"email": email, "password": PASSWORD},
        name="/auth/login",
        catch_response=True,
    ) as resp:
        if resp.status_code == 200:
            try:
                token = resp.json()["access_token"]
            except (ValueError, KeyError):
                resp.failure("login: no access_token")
                return None
            resp.success()
            return token
        resp.failure(f"login: {resp.status_code}")
    return None


class RegisteringUser(Base):
    """Registers a new account again and again."""

    weight = 1
    wait_time = between(2, 5)

    @task
    def register(self):
        register(self.client, "reg")


class LoggingInUser(Base):
    """Registers once, then logs in again and again."""

    weight = 2
    wait_time = between(1, 3)

    def on_start(self):
        self.email = register(self.client, "login")

    @task
    def login(self):
        if self.email is None:
            self.email = register(self.client, "login")
            return
        login(self.client, self.email)


class ProtectedUser(Base):
    """Registers and logs in once, then reads /auth/me (4 parts) or logs in
    again (1 part)."""

    weight = 5
    wait_time = between(1, 2)

    def on_start(self):
        self.email = register(self.client, "prot")
        self.token = login(self.client, self.email) if self.email else None

    @task(4)
    def me(self):
        if self.token is None:
            self.on_start()
            return
        with self.client.get(
            "/auth/me",
            headers={"Authorization": f"Bearer {self.token}"},
            name="/auth/me",
            catch_response=True,
        ) as resp:
            if resp.status_code == 200:
                resp.success()
            else:
                resp.failure(f"me: {resp.status_code}")

    @task(1)
    def relogin(self):
        if self.email is None:
            self.on_start()
            return
        token = login(self.client, self.email)
        if token:
            self.token = token
