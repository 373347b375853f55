"""The command line speaks French, including the texts Typer and Click write themselves.

Typer (0.29) carries its own copy of Click, whose texts are written in English in the code (« Show this
message and exit. », « Usage: », « Missing option »…), and Typer's own panel titles go through gettext,
for which no French catalogue exists. `install()` gives them French: the panel titles and Typer's `_`,
the help option's text, the usage prefix, and the messages of Click's errors (translated by the leading
English words they start with). Every `tocsin` run calls it before building its commands.
"""

from __future__ import annotations

import functools
import re
from typing import Any

FRENCH: dict[str, str] = {
    "%(prog)s, version %(version)s": "%(prog)s, version %(version)s",
    "(deprecated) ": "(obsolète) ",
    "(dynamic)": "(dynamique)",
    "Aborted!": "Interrompu.",
    "Aborted.": "Interrompu.",
    "Argument {name!r} takes {nargs} values.": "L'argument {name!r} prend {nargs} valeurs.",
    "Arguments": "Arguments",
    "Choice({choices})": "Choix({choices})",
    "Choose from:\n\t{choices}": "Au choix :\n\t{choices}",
    "Commands": "Commandes",
    "Confirm the action without prompting.": "Confirmer l'action sans la demander.",
    "Could not open file {filename!r}: {message}": "Impossible d'ouvrir le fichier {filename!r} : {message}",
    "Do you want to continue?": "Voulez-vous continuer ?",
    "Error": "Erreur",
    "Error: The two entered values do not match.": "Erreur : les deux valeurs saisies diffèrent.",
    "Error: invalid input": "Erreur : saisie invalide",
    "Error: {message}": "Erreur : {message}",
    "Invalid start character for option ({option})": "Caractère initial invalide pour l'option ({option})",
    "Invalid value for {param_hint}: {message}": "Valeur invalide pour {param_hint} : {message}",
    "Invalid value: {message}": "Valeur invalide : {message}",
    "Missing argument": "Argument manquant",
    "Missing command.": "Commande manquante.",
    "Missing option": "Option manquante",
    "Missing parameter": "Paramètre manquant",
    "Missing parameter: {param_name}": "Paramètre manquant : {param_name}",
    "Missing {param_type}": "{param_type} manquant(e)",
    "No such command {name!r}.": "Commande inconnue : {name!r}.",
    "No such option {name!r}.": "Option inconnue : {name!r}.",
    "Option {name!r} does not take a value.": "L'option {name!r} ne prend pas de valeur.",
    "Options": "Options",
    "Positional arguments": "Arguments positionnels",
    "Press any key to continue...": "Appuyez sur une touche pour continuer…",
    "Repeat for confirmation": "Répétez pour confirmer",
    "Show the version and exit.": "Afficher la version et quitter.",
    "Show this message and exit.": "Afficher ce message et quitter.",
    "Try '{command} {option}' for help.": "Essayez « {command} {option} » pour l'aide.",
    "Try [blue]'{command_path} {help_option}'[/] for help.":
        "Essayez [blue]« {command_path} {help_option} »[/] pour l'aide.",
    "Usage:": "Utilisation :",
    "Value must be an iterable.": "La valeur doit être une liste.",
    "[default: {}]": "[par défaut : {}]",
    "[env var: {}]": "[variable d'environnement : {}]",
    "[required]": "[obligatoire]",
    "default: {default}": "par défaut : {default}",
    "deprecated": "obsolète",
    "directory": "dossier",
    "env var: {var}": "variable d'environnement : {var}",
    "file": "fichier",
    "path": "chemin",
    "required": "obligatoire",
    "unknown error": "erreur inconnue",
    "{name} {filename!r} does not exist.": "{name} {filename!r} n'existe pas.",
    "{name} {filename!r} is a directory.": "{name} {filename!r} est un dossier.",
    "{name} {filename!r} is a file.": "{name} {filename!r} est un fichier.",
    "{name} {filename!r} is not executable.": "{name} {filename!r} n'est pas exécutable.",
    "{name} {filename!r} is not readable.": "{name} {filename!r} n'est pas lisible.",
    "{name} {filename!r} is not writable.": "{name} {filename!r} n'est pas accessible en écriture.",
    "{value!r} is not a valid UUID.": "{value!r} n'est pas un UUID valide.",
    "{value!r} is not a valid {number_type}.": "{value!r} n'est pas un {number_type} valide.",
    "{value} is not in the range {range}.": "{value} n'est pas dans l'intervalle {range}.",
    "Install completion for the current shell.": "Installer la complétion pour l'interpréteur courant.",
    "Show completion for the current shell, to copy it or customize the installation.":
        "Afficher la complétion pour l'interpréteur courant.",
}
def gettext(message: str) -> str:
    return FRENCH.get(message, message)


def install() -> None:
    """Give Typer's and its Click's texts in French (idempotent)."""
    import typer.core as typer_core
    import typer.rich_utils as rich_utils
    from typer._click import core, exceptions, formatting

    rich_utils._ = gettext
    for constant in ("DEPRECATED_STRING", "DEFAULT_STRING", "ENVVAR_STRING", "REQUIRED_LONG_STRING",
                     "ARGUMENTS_PANEL_TITLE", "OPTIONS_PANEL_TITLE", "COMMANDS_PANEL_TITLE", "ERRORS_PANEL_TITLE",
                     "ABORTED_TEXT", "RICH_HELP"):
        english = getattr(rich_utils, constant, None)
        if isinstance(english, str):
            setattr(rich_utils, constant, _english_of(english))
    rich_utils.OptionHighlighter.highlights = [
        *[h for h in rich_utils.OptionHighlighter.highlights if "usage" not in h], r"(?P<usage>Utilisation : )"]
    if getattr(core.Command.get_help_option, "_tocsin_french", False):
        return
    core.Command.get_help_option = _french_help_option(core.Command.get_help_option)  # type: ignore[method-assign]
    typer_core._TyperParameter.display_type = _french_type(typer_core._TyperParameter.display_type)  # type: ignore[method-assign]
    formatting.HelpFormatter.write_usage = _french_usage(formatting.HelpFormatter.write_usage)  # type: ignore[method-assign]
    for kind in vars(exceptions).values():
        if isinstance(kind, type) and issubclass(kind, exceptions.ClickException) and "format_message" in vars(kind):
            kind.format_message = _french_message(kind.format_message)  # type: ignore[method-assign]


def _french_help_option(get_help_option: Any) -> Any:
    @functools.wraps(get_help_option)
    def french(self: Any, ctx: Any) -> Any:
        option = get_help_option(self, ctx)
        if option is not None:
            option.help = FRENCH["Show this message and exit."]
        return option

    french._tocsin_french = True  # type: ignore[attr-defined]
    return french


# The types shown beside options (« <str> »), as a French reader names them.
TYPE_NAMES = {"str": "texte", "int": "entier", "float": "nombre", "bool": "oui/non", "Path": "chemin",
              "path": "chemin", "datetime": "date", "file": "fichier", "dir": "dossier"}


def _french_type(display_type: Any) -> Any:
    @functools.wraps(display_type)
    def french(self: Any, ctx: Any) -> str:
        shown = display_type(self, ctx)
        inner = shown[1:-1] if shown.startswith("<") and shown.endswith(">") else None
        return f"<{TYPE_NAMES[inner]}>" if inner in TYPE_NAMES else shown

    return french


def _french_usage(write_usage: Any) -> Any:
    @functools.wraps(write_usage)
    def french(self: Any, prog: str, args: str = "", prefix: str | None = None) -> None:
        args = args.replace("COMMAND [ARGS]...", SUBCOMMAND)
        write_usage(self, prog, args, FRENCH["Usage:"] + " " if prefix is None else prefix)

    return french


# Click's error messages, by the English words they start with (what follows is the user's own input).
ERRORS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(pattern), french) for pattern, french in (
    (r"^Invalid value for (.*?): ", r"Valeur invalide pour \1 : "),
    (r"^Invalid value: ", "Valeur invalide : "),
    (r"^Missing option", "Option manquante"),
    (r"^Missing argument", "Argument manquant"),
    (r"^Missing parameter", "Paramètre manquant"),
    (r"^No such option: ", "Option inconnue : "),
    (r"^No such command ", "Commande inconnue : "),
    (r"^Got unexpected extra arguments? ", "Argument(s) en trop : "),
    (r"^Option (.*?) requires an argument\.", r"L'option \1 demande un argument."),
    (r"^Option (.*?) requires (\d+) arguments\.", r"L'option \1 demande \2 arguments."),
    (r"^Option (.*?) does not take a value\.", r"L'option \1 ne prend pas de valeur."),
    (r"^Could not open file (.*?): ", r"Impossible d'ouvrir le fichier \1 : "),
    (r"\(Possible options: ", "(options possibles : "),
    (r"Did you mean (.*?)\?", r"Vouliez-vous dire \1 ?"),
    (r"\(Did you mean one of: (.*?)\?\)", r"(Vouliez-vous dire : \1 ?)"),
    (r"is not a valid integer", "n'est pas un entier valide"),
    (r"is not a valid float", "n'est pas un nombre valide"),
    (r"is not a valid boolean", "n'est pas un booléen valide"),
    (r"is not in the range", "n'est pas dans l'intervalle"),
    (r"is not one of ", "n'est pas parmi "),
    (r"^(.*?) does not exist\.", r"\1 n'existe pas."),
))


def translate_error(message: str) -> str:
    for pattern, french in ERRORS:
        message = pattern.sub(french, message)
    return message


def _french_message(format_message: Any) -> Any:
    @functools.wraps(format_message)
    def french(self: Any) -> str:
        return translate_error(format_message(self))

    return french


def _english_of(text: str) -> str:
    """A constant already computed by an English `_` (or by ours, if installed twice): its French."""
    return FRENCH.get(text, text)


SUBCOMMAND = "COMMANDE [ARGUMENTS]..."  # every Typer app's `subcommand_metavar` (Click's is English)

