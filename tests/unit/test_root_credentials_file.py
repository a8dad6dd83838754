"""The first start's guard on DATA_DIR/root-credentials (runtime.check_root_credentials_file).

A start that would have to write the file refuses when it already exists and belongs to another
store. A file written by a concurrent first start of the same store (two nodes sharing a data
directory and a database, started at once) is not another store's: that start had already set the
store's default account, which a fresh look at the store shows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from opensts.config import Settings
from opensts.identity import ids
from opensts.runtime import BootstrapError, check_root_credentials_file, write_credentials_file
from opensts.store.probe import StoreState

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
EMPTY = StoreState()  # the probe before the other node set anything up


def settings_with_file(tmp_path: Path, account: str) -> Settings:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write_credentials_file(data_dir / "root-credentials", ids.new_long_term_access_key_id(account), "s" * 40)
    return Settings(data_dir=data_dir)


def test_no_file_no_refusal(tmp_path: Path) -> None:
    check_root_credentials_file(Settings(data_dir=tmp_path / "data"), EMPTY, reprobe=lambda: EMPTY)


def test_another_stores_file_is_refused(tmp_path: Path) -> None:
    settings = settings_with_file(tmp_path, OTHER_ACCOUNT)
    with pytest.raises(BootstrapError, match="refusing to overwrite"):
        check_root_credentials_file(settings, EMPTY, reprobe=lambda: StoreState(True, ACCOUNT))


def test_a_file_on_a_store_not_yet_set_up_is_refused(tmp_path: Path) -> None:
    settings = settings_with_file(tmp_path, ACCOUNT)
    with pytest.raises(BootstrapError):
        check_root_credentials_file(settings, EMPTY, reprobe=lambda: EMPTY)


def test_a_concurrent_first_start_of_the_same_store_is_not_refused(tmp_path: Path) -> None:
    settings = settings_with_file(tmp_path, ACCOUNT)
    # The other node set the default account and wrote the file; its root key is not stored yet.
    check_root_credentials_file(settings, EMPTY, reprobe=lambda: StoreState(True, ACCOUNT))


def test_a_finished_concurrent_first_start_is_not_refused(tmp_path: Path) -> None:
    settings = settings_with_file(tmp_path, ACCOUNT)
    check_root_credentials_file(settings, EMPTY, reprobe=lambda: StoreState(True, ACCOUNT, root_key_ids=("AKIA",)))
