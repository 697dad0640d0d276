import hashlib
import json
import os
import stat
import string

import passlib.hash
import pytest

from buildout_harness import forget_run_state, snapshot


def profile(buildout, options: str = "", extra: str = "", template: str = "{{ password }}") -> str:
    return f"""
[buildout]
parts = password config

[password]
recipe = slapkit:generate.password
{options}

[config]
recipe = slapkit:jinja2
inline = {template}
output = {buildout.path("config")}
mode = 0600
context = key password password:passwd
{extra}
"""


def stored(buildout, part="password") -> str:
    return buildout.path("parts", part).read_text()


def test_generated_password_is_stored_0600_and_reaches_other_parts(buildout):
    result = buildout.run(profile(buildout)).check()
    password = stored(buildout)
    assert len(password) == 16
    assert set(password) <= set(string.ascii_letters + string.digits)
    storage = buildout.path("parts", "password")
    assert stat.S_IMODE(storage.stat().st_mode) == 0o600
    assert buildout.path("config").read_text() == password
    assert f"created password in {storage}" in result.output


def test_password_never_changes_on_later_runs_even_if_bytes_changes(buildout):
    buildout.run(profile(buildout)).check()
    password = stored(buildout)
    before = snapshot(buildout.directory)
    rerun = buildout.run().check()
    assert snapshot(buildout.directory) == before
    assert "Installing" not in rerun.output and "created" not in rerun.output
    buildout.run(profile(buildout, "bytes = 40")).check()
    assert stored(buildout) == password
    assert buildout.path("config").read_text() == password


def test_bytes_and_chars_are_honoured(buildout):
    buildout.run(profile(buildout, "bytes = 40\nchars = ab")).check()
    password = stored(buildout)
    assert len(password) == 40 and set(password) == {"a", "b"}


def test_imposed_password_is_stored_and_replaces_the_old_one(buildout):
    buildout.run(profile(buildout)).check()
    result = buildout.run(profile(buildout, "passwd = imposed-Secret-1")).check()
    assert stored(buildout) == "imposed-Secret-1"
    assert buildout.path("config").read_text() == "imposed-Secret-1"
    assert "updated password in" in result.output
    # The imposed value is a secret too: not in .installed.cfg
    assert "imposed-Secret-1" not in buildout.path(".installed.cfg").read_text()


def test_empty_storage_path_persists_nothing(buildout):
    buildout.run(profile(buildout, "storage-path =")).check()
    assert not buildout.path("parts", "password").exists()
    assert len(buildout.path("config").read_text()) == 16


def test_a_missing_storage_directory_is_made_as_mkdirectory_makes_it(buildout):
    # The corpus found it: ${directory:srv}/admin.passwd is persisted when the
    # part is read, before [directory] installs srv, which keeps what it finds.
    secret_dir = buildout.path("srv", "secrets")
    old = os.umask(0o027)
    try:
        buildout.run(profile(buildout, f"storage-path = {secret_dir}/admin")).check()
    finally:
        os.umask(old)
    assert stat.S_IMODE(secret_dir.stat().st_mode) == 0o750
    assert stat.S_IMODE((secret_dir / "admin").stat().st_mode) == 0o600


def test_storage_file_is_0600_even_under_a_permissive_umask(buildout):
    old = os.umask(0)
    try:
        buildout.run(profile(buildout)).check()
    finally:
        os.umask(old)
    assert stat.S_IMODE(buildout.path("parts", "password").stat().st_mode) == 0o600


def test_secret_never_in_installed_cfg_nor_in_verbose_output(buildout):
    result = buildout.run(
        profile(
            buildout,
            template="{{ password }} {{ hash }}",
            extra="    key hash password:passwd-sha512-crypt",
        ),
        "-vv",
    ).check()
    password = stored(buildout)
    assert "Configuration data:" in result.output  # -vv printed every option
    installed = buildout.path(".installed.cfg").read_text()
    hashed = buildout.path("config").read_text().split()[1]
    for secret in (password, hashed):
        assert secret not in installed
        assert secret not in result.output
    second = buildout.run(None, "-vvv").check()
    assert password not in second.output and hashed not in second.output


def test_secret_never_in_an_error_message(buildout):
    text = (
        profile(buildout)
        + f"""
[broken]
recipe = slapkit:mkdirectory
mode = ${{password:passwd}}
data = {buildout.path("data")}
"""
    )
    buildout.run(profile(buildout)).check()
    password = stored(buildout)
    result = buildout.run(text.replace("parts = password config", "parts = password config broken"))
    assert result.returncode != 0
    assert "Error: [broken] mode: '<secret>' is not an octal file mode" in result.output
    assert password not in result.output


def test_a_short_imposed_password_is_hidden_without_garbling_the_error(buildout):
    """passwd = ab: the error still names part and option in plain words, and
    the value alone is hidden; 'ab' inside other words is left as it is."""
    text = (
        profile(buildout, "passwd = ab")
        + """
[broken]
recipe = slapkit:mkdirectory
mode = ${password:passwd}
absent = /nonexistent-lab
"""
    )
    result = buildout.run(text.replace("parts = password config", "parts = password config broken"))
    assert result.returncode != 0
    assert "Error: [broken] mode: '<secret>' is not an octal file mode" in result.output
    assert "'ab'" not in result.output


def test_redaction_rule():
    from slapkit.core import secrets

    secrets.register_secret("Zq3xLongSecret")
    secrets.register_secret("ab")
    assert secrets.redact("x Zq3xLongSecret y") == "x <secret> y"
    assert secrets.redact("prefixZq3xLongSecretsuffix") == "prefix<secret>suffix"
    assert secrets.redact("'ab' is not octal; cannot grab a lab") == (
        "'<secret>' is not octal; cannot grab a lab"
    )
    assert secrets.holds_secret("-ab-") and not secrets.holds_secret("label")
    assert secrets.holds_secret("PASS=prefixZq3xLongSecret")


def test_each_new_secret_is_found_and_redacted_at_once():
    """Secrets made one after another (a profile with many passwords)."""
    from slapkit.core import secrets

    for number in range(50):
        long_one, short_one = f"Long{number:04d}Secret", f"s{number}"
        assert not secrets.holds_secret(f"x={long_one}")
        secrets.register_secret(long_one)
        assert secrets.holds_secret(f"x={long_one}")
        assert not secrets.holds_secret(f"x {short_one} y")
        secrets.register_secret(short_one)
        assert secrets.holds_secret(f"x {short_one} y")
        assert secrets.redact(f"{long_one} and {short_one}") == "<secret> and <secret>"
    assert not secrets.holds_secret("nothing here: s7x")
    forget_run_state()
    assert not secrets.holds_secret("Long0001Secret")
    assert secrets.redact("Long0001Secret") == "Long0001Secret"


@pytest.mark.parametrize(
    "scheme, handler",
    [
        ("sha256-crypt", passlib.hash.sha256_crypt),
        ("sha512-crypt", passlib.hash.sha512_crypt),
        ("bcrypt", passlib.hash.bcrypt),
        ("ssha", passlib.hash.ldap_salted_sha1),
        ("pbkdf2-sha256", passlib.hash.pbkdf2_sha256),
    ],
)
def test_hashes_verify_and_stay_identical_on_later_runs(buildout, scheme, handler):
    text = profile(buildout, template="{{ hash }}", extra=f"    key hash password:passwd-{scheme}")
    buildout.run(text).check()
    hashed = buildout.path("config").read_text()
    assert handler.verify(stored(buildout), hashed)
    hashes = buildout.path("parts", "password.hashes")
    assert stat.S_IMODE(hashes.stat().st_mode) == 0o600
    before = snapshot(buildout.directory)
    buildout.run().check()
    assert snapshot(buildout.directory) == before
    assert buildout.path("config").read_text() == hashed


def fingerprinted(password: str, hashes) -> str:
    """A hashes file as slapkit writes it, for ``password``, holding ``hashes``."""
    salt = "0123456789abcdef"
    fingerprint = hashlib.sha256((salt + "\0" + password).encode()).hexdigest()
    return json.dumps({"salt": salt, "for": fingerprint, "hashes": hashes})


@pytest.mark.parametrize(
    "content",
    [
        "[1]",
        '{"salt": 5, "hashes": {"sha512-crypt": "$6$x"}}',
        "FINGERPRINTED",  # the right password's, but a hash that is no string
    ],
)
def test_an_unusable_hashes_file_is_made_anew(buildout, content):
    text = profile(
        buildout, template="{{ hash }}", extra="    key hash password:passwd-sha512-crypt"
    )
    buildout.run(text).check()
    password = stored(buildout)
    hashes = buildout.path("parts", "password.hashes")
    if content == "FINGERPRINTED":
        content = fingerprinted(password, {"sha512-crypt": 5})
    hashes.write_text(content)
    result = buildout.run(text).check()
    assert "Traceback" not in result.output
    assert stored(buildout) == password
    hashed = buildout.path("config").read_text()
    assert passlib.hash.sha512_crypt.verify(password, hashed)
    assert json.loads(hashes.read_text())["hashes"] == {"sha512-crypt": hashed}


def test_hash_follows_an_imposed_password(buildout):
    text = profile(
        buildout, template="{{ hash }}", extra="    key hash password:passwd-sha256-crypt"
    )
    buildout.run(text).check()
    buildout.run(
        profile(
            buildout,
            "passwd = another-one",
            template="{{ hash }}",
            extra="    key hash password:passwd-sha256-crypt",
        )
    ).check()
    assert passlib.hash.sha256_crypt.verify("another-one", buildout.path("config").read_text())


# "--doc--" names passlib.hash's __doc__: an attribute, but no hash handler.
@pytest.mark.parametrize("scheme", ["rot13", "--doc--"])
def test_unknown_hash_scheme_is_a_user_error(buildout, scheme):
    result = buildout.run(
        profile(buildout, template="{{ hash }}", extra=f"    key hash password:passwd-{scheme}")
    )
    assert result.returncode != 0
    assert f"Error: [password] passwd-{scheme}: unknown hash scheme '{scheme}'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "options, message",
    [
        ("bytes = many", "[password] bytes: 'many' is not a whole number"),
        ("bytes = 0", "[password] bytes: 0 is less than 1"),
        (
            "bytes = 99999999999999999999",
            "[password] bytes: 99999999999999999999 is more than 4096",
        ),
        ("chars = a", "[password] chars: needs at least two different characters"),
        ("chars = a b", "[password] chars: may hold no blank, line break or control character"),
    ],
)
def test_bad_options_are_user_errors_and_store_nothing(buildout, options, message):
    result = buildout.run(profile(buildout, options))
    assert result.returncode != 0
    assert f"Error: {message}" in result.output
    assert not buildout.path("parts", "password").exists()


def slow_storage_read(seconds=0.5, without_lock=False):
    """In a forked buildout: pause right after reading the password's storage,
    so that two runs started together are both inside the read-then-write
    section at once (a run without the lock then always makes its own)."""

    def setup():
        import contextlib
        import time

        from slapkit.recipes import password

        read = password._read_text

        def slow_read(path):
            text = read(path)
            if path and not path.endswith(".hashes"):
                time.sleep(seconds)
            return text

        password._read_text = slow_read
        if without_lock:
            password.locked_directory = lambda directory: contextlib.nullcontext()

    return setup


def concurrent_runs(buildout, setup):
    # buildout's own first run makes eggs/, bin/...: not what is raced here
    buildout.run("[buildout]\nparts =\n").check()
    buildout.write(profile(buildout))
    copies = [buildout.start(setup=setup) for _ in range(2)]
    return [copy.wait().output for copy in copies]


def test_two_concurrent_buildouts_end_with_one_password(buildout):
    outputs = concurrent_runs(buildout, slow_storage_read())
    password = stored(buildout)
    assert len(password) == 16
    # One made the password, the other waited for the lock and found it.
    assert sum(output.count("created password in") for output in outputs) == 1, outputs
    assert buildout.path("config").read_text() == password
    buildout.run().check()
    assert buildout.path("config").read_text() == password


def test_the_concurrency_test_fails_without_the_lock(buildout):
    """The test above would catch a missing lock: without it, every time,
    both runs make a password."""
    outputs = concurrent_runs(buildout, slow_storage_read(without_lock=True))
    assert sum(output.count("created password in") for output in outputs) == 2, outputs


COOKBOOK_PROFILE = """
[buildout]
parts = password config

[password]
recipe = RECIPE

[config]
recipe = slapos.recipe.template:jinja2
output = {config}
mode = 0600
inline = {{{{ password }}}} {{{{ hashed }}}}
context =
  key password password:passwd
  key hashed password:passwd-sha256-crypt
"""


def test_password_stored_by_slapos_cookbook_is_taken_over(buildout):
    """A profile moving from slapos.cookbook changes only its recipe line:
    the password and its hash (so the config embedding it) stay."""
    pytest.importorskip("slapos.recipe.random", reason="needs slapos.cookbook")
    text = COOKBOOK_PROFILE.format(config=buildout.path("config"))
    buildout.run(text.replace("RECIPE", "slapos.cookbook:generate.password")).check()
    config = buildout.path("config").read_text()
    password, hashed = config.split(" ")
    assert passlib.hash.sha256_crypt.verify(password, hashed)
    assert stored(buildout).startswith("{")  # the cookbook's JSON

    result = buildout.run(text.replace("RECIPE", "slapkit:generate.password")).check()
    assert buildout.path("config").read_text() == config
    assert stored(buildout) == password
    assert stat.S_IMODE(buildout.path("parts", "password").stat().st_mode) == 0o600
    assert "converted slapos.cookbook password in" in result.output
    assert password not in result.output and hashed not in result.output
    before = snapshot(buildout.directory)
    buildout.run().check()
    assert snapshot(buildout.directory) == before


@pytest.mark.parametrize(
    "content, kept",
    [
        ('{"": "Zq3xCookbookPw", "passwd-sha512-crypt": "$6$kept"}', "Zq3xCookbookPw"),
        ('{"": "Zq3xCookbookPw"}\n', "Zq3xCookbookPw"),
        ('{"not": "the cookbook format"}', '{"not": "the cookbook format"}'),
        ("{plain password with a brace", "{plain password with a brace"),
        # A hash that is no string is not taken: made anew
        ('{"": "Zq3xCookbookPw", "passwd-sha512-crypt": 5}', "Zq3xCookbookPw"),
    ],
)
def test_cookbook_storage_format_is_read(buildout, content, kept):
    storage = buildout.path("parts", "password")
    storage.parent.mkdir()
    storage.write_text(content)
    buildout.run(
        profile(
            buildout,
            template="{{ password }}|{{ hashed }}",
            extra=("  key hashed password:passwd-sha512-crypt"),
        )
    ).check()
    password, hashed = buildout.path("config").read_text().split("|")
    assert password == kept and stored(buildout) == kept
    if "$6$kept" in content:
        assert hashed == "$6$kept"  # the cookbook's hash, salt and all
    else:
        assert passlib.hash.sha512_crypt.verify(kept, hashed)


def test_imposed_password_wins_over_a_cookbook_one(buildout):
    storage = buildout.path("parts", "password")
    storage.parent.mkdir()
    storage.write_text('{"": "Zq3xCookbookPw"}')
    buildout.run(profile(buildout, "passwd = Imposed4567")).check()
    assert stored(buildout) == "Imposed4567"
    assert buildout.path("config").read_text() == "Imposed4567"
