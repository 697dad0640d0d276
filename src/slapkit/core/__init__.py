"""What every slapkit recipe shares: option parsing, atomic files, errors, change log."""

from slapkit.core.errors import option_error
from slapkit.core.files import remove_file, write_if_changed
from slapkit.core.options import PartOptions
from slapkit.core.recipe import BaseRecipe

__all__ = ["BaseRecipe", "PartOptions", "option_error", "remove_file", "write_if_changed"]
