"""A Unix-like file system held entirely in state: it never touches the real disk."""

import fnmatch
import posixpath
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from servers.environment import Environment, tool
from servers.errors import InvalidArgument, NotFound, PreconditionFailed
from servers.linediff import unified_diff
from servers.state import StateModel

__all__ = ["FileSystem", "FileSystemState", "Node"]


class Node(StateModel):
    """A file or a directory."""

    kind: Literal["file", "directory"] = Field(description="Whether this node is a file or a directory.")
    content: str = Field(default="", description="Text content of a file; always empty for a directory.")


class FileSystemState(StateModel):
    """The whole tree as absolute paths to nodes, plus the working directory."""

    cwd: str = Field(default="/", description="Absolute path of the current working directory.")
    nodes: dict[str, Node] = Field(
        default_factory=lambda: {"/": Node(kind="directory")},
        description="Every file and directory by absolute, normalised path; '/' is the root directory.",
    )

    @model_validator(mode="after")
    def _check_tree(self) -> "FileSystemState":
        if self.nodes.get("/") is None or self.nodes["/"].kind != "directory":
            raise ValueError("the root '/' must be a directory")
        for path, node in self.nodes.items():
            if path != "/" and _normalise("/", path) != path:
                raise ValueError(f"path {path!r} is not absolute and normalised")
            parent = self.nodes.get(posixpath.dirname(path))
            if path != "/" and (parent is None or parent.kind != "directory"):
                raise ValueError(f"path {path!r} has no parent directory")
            if node.kind == "directory" and node.content:
                raise ValueError(f"directory {path!r} cannot have content")
        cwd = self.nodes.get(self.cwd)
        if cwd is None or cwd.kind != "directory":
            raise ValueError(f"cwd {self.cwd!r} is not a directory")
        return self


class PathResult(BaseModel):
    path: str = Field(description="Absolute path of the file or directory acted on.")


class DirectoryResult(BaseModel):
    current_working_directory: str = Field(description="Absolute path of the working directory.")


class ListResult(BaseModel):
    entries: list[str] = Field(description="Names in the directory, sorted; directories end with '/'.")


class ContentResult(BaseModel):
    content: str = Field(description="The text.")


class EchoResult(BaseModel):
    terminal_output: str | None = Field(description="What was printed, when no file was given.")
    path: str | None = Field(description="Absolute path of the file written, when one was given.")


class RemoveResult(BaseModel):
    removed: list[str] = Field(description="Absolute paths removed, deepest first.")


class FindResult(BaseModel):
    matches: list[str] = Field(description="Absolute paths that match, sorted.")


class GrepResult(BaseModel):
    matching_lines: list[str] = Field(description="Lines of the file that contain the pattern, in order.")


class CountResult(BaseModel):
    count: int = Field(description="The number of lines, words or characters.")
    mode: str = Field(description="What was counted.")


class LinesResult(BaseModel):
    lines: list[str] = Field(description="The selected lines, in order.")


class DiffResult(BaseModel):
    diff_lines: list[str] = Field(description="A unified diff; empty when the files are identical.")


class UsageResult(BaseModel):
    path: str = Field(description="Absolute path measured.")
    bytes: int = Field(description="Total size of the files under the path, in bytes (UTF-8).")
    human_readable: str = Field(description="The same size written as B, KB or MB.")


FilePath = Annotated[str, Field(description="Path of a file, absolute or relative to the working directory.")]
AnyPath = Annotated[
    str, Field(description="Path of a file or directory, absolute or relative to the working directory.")
]
DirPath = Annotated[str, Field(description="Path of a directory, absolute or relative to the working directory.")]


class FileSystem(Environment):
    name = "filesystem"
    description = "A Unix-like file system: navigate, read, write, search and compare files."
    state_model = FileSystemState
    state: FileSystemState

    @tool(
        read_only=True,
        asks=[
            "Which folder am I in right now?",
            "Where am I in the file system?",
            "Tell me the current directory.",
            "What's the full path of the folder I'm working in?",
            "Show me the path of my working directory.",
        ],
        answers=["You're in {current_working_directory}.", "The current directory is {current_working_directory}."],
    )
    def pwd(self) -> DirectoryResult:
        """Print the absolute path of the current working directory."""
        return DirectoryResult(current_working_directory=self.state.cwd)

    @tool(
        consumes={"folder": "dir_path"},
        asks=[
            "Go to {folder}.",
            "Switch over to {folder}.",
            "Can you move me into {folder}?",
            "From now on I'll work in {folder}, so take me there.",
            "Make {folder} my working directory.",
            "(Go|Move|Switch|Change) (into|over to|to) {folder}( so I can work there| for me| now|).",
            "(I want to|I'd like to|I need to) (work in|be in|switch to) {folder}( from now on| now| for a while), "
            "so (take me there|move me there).",
        ],
        answers=[
            "You're now in {current_working_directory}.",
            "Switched: the working directory is {current_working_directory}.",
        ],
    )
    def cd(self, folder: DirPath) -> DirectoryResult:
        """Change the working directory. '..' goes up one level; '/' is the root."""
        path = self._existing(folder, "directory")
        self.state.cwd = path
        return DirectoryResult(current_working_directory=path)

    @tool(
        read_only=True,
        consumes={"path": "dir_path"},
        produces={"entries": "path"},
        asks=[
            "What files are there[ in {path}][{show_hidden?, hidden ones too|}]?",
            "List the files[ in {path}][{show_hidden?, including hidden ones|}].",
            "Can you show me what's inside[ {path}][{show_hidden?, hidden entries included|}]?",
            "Let me see the files and folders[ in {path}][{show_hidden?, dotfiles included|}].",
            "Give me a directory listing[ for {path}][{show_hidden? that shows hidden files|}].",
        ],
        answers=["The folder contains {entries#} entries: {entries}.", "Here's the listing: {entries}."],
    )
    def ls(
        self,
        path: Annotated[str, Field(description="Directory to list; defaults to the working directory.")] = ".",
        show_hidden: Annotated[bool, Field(description="Include names starting with '.'.")] = False,
    ) -> ListResult:
        """List the names in a directory, sorted, with a trailing '/' on subdirectories."""
        directory = self._existing(path, "directory")
        entries = [
            posixpath.basename(child) + ("/" if node.kind == "directory" else "")
            for child, node in self._children(directory)
            if show_hidden or not posixpath.basename(child).startswith(".")
        ]
        return ListResult(entries=sorted(entries))

    @tool(
        produces={"path": "dir_path"},
        asks=[
            "Create a folder called {dir_name}[{parents?, with any missing parent folders|}].",
            "Make a new directory named {dir_name}[{parents?, creating the parents as needed|}].",
            "Can you set up the folder {dir_name}[{parents?, plus any folders above it that don't exist yet|}]?",
            "Please set up a directory at {dir_name}[{parents?; build the whole path if necessary|}].",
            "Start a new folder {dir_name}[{parents?, along with its missing parents|}].",
        ],
        answers=["Created the folder {path}.", "The new directory is at {path}."],
    )
    def mkdir(
        self,
        dir_name: Annotated[str, Field(description="Path of the directory to create.")],
        parents: Annotated[bool, Field(description="Also create missing parent directories.")] = False,
    ) -> PathResult:
        """Create a directory. Fails if it exists or, unless `parents` is true, if its parent is missing."""
        path = self._resolve(dir_name)
        if path in self.state.nodes:
            raise InvalidArgument(f"{dir_name}: already exists")
        missing = []
        parent = posixpath.dirname(path)
        while parent not in self.state.nodes:
            missing.append(parent)
            parent = posixpath.dirname(parent)
        if self.state.nodes[parent].kind != "directory":
            raise InvalidArgument(f"{parent}: not a directory")
        if missing and not parents:
            raise NotFound(f"{posixpath.dirname(path)}: no such directory (use parents=true to create it)")
        for directory in [*reversed(missing), path]:
            self.state.nodes[directory] = Node(kind="directory")
        return PathResult(path=path)

    @tool(
        produces={"path": "file_path"},
        asks=[
            "Create an empty file called {file_name}.",
            "Make a new blank file named {file_name}.",
            "Can you create {file_name} for me? Leave it empty.",
            "I need an empty file at {file_name}.",
            "Set up a blank file {file_name}, and leave it alone if it already exists.",
        ],
        answers=["The file {path} is in place.", "Now {path} exists, empty if it was new."],
    )
    def touch(self, file_name: FilePath) -> PathResult:
        """Create an empty file if it does not exist; an existing file is left as it is."""
        path = self._resolve(file_name)
        node = self.state.nodes.get(path)
        if node is not None and node.kind == "directory":
            raise InvalidArgument(f"{file_name}: is a directory")
        if node is None:
            self._parent_directory(path)
            self.state.nodes[path] = Node(kind="file")
        return PathResult(path=path)

    @tool(
        read_only=True,
        consumes={"file_name": "file_path"},
        asks=[
            "Show me what's in {file_name}.",
            "What does {file_name} say?",
            "Could you print the contents of {file_name}?",
            "Let me read {file_name}.",
            "Open {file_name} and show me everything in it.",
            "(Show me|Print|Display|Read out) (the contents of|what's in|everything in|the whole of) {file_name}( "
            "for me| please|).",
            "(What's|What is) (in|written in|inside) {file_name}( right now| at the moment|)?",
        ],
        answers=["Here is {@file_name}: {content}", "The file {@file_name} reads: {content}"],
    )
    def cat(self, file_name: FilePath) -> ContentResult:
        """Show the whole content of a file."""
        return ContentResult(content=self._file(file_name).content)

    @tool(
        produces={"path": "file_path"},
        asks=[
            'Print "{content}"[ into {file_name}][{append?, after what is already there|}].',
            'Write "{content}"[ to {file_name}][{append?, at the end|}].',
            'Can you output "{content}"[ to {file_name}][{append?, appending rather than overwriting|}]?',
            'I want the line "{content}" written out[ to {file_name}][{append?, added at the end|}].',
            'Type out "{content}"[ into {file_name}][{append? below what it already holds|}].',
        ],
        answers=[
            "[Output: {terminal_output}][The text is in {path} now.]",
            "[Here it is: {terminal_output}][Saved the text to {path}.]",
        ],
    )
    def echo(
        self,
        content: Annotated[str, Field(description="Text to print or write.")],
        file_name: Annotated[
            str | None, Field(description="File to write to; when omitted the text is printed instead.")
        ] = None,
        append: Annotated[bool, Field(description="Append to the file instead of replacing its content.")] = False,
    ) -> EchoResult:
        """Print text, or write it to a file (created if missing, replaced unless `append`)."""
        if file_name is None:
            return EchoResult(terminal_output=content, path=None)
        path = self._resolve(file_name)
        node = self.state.nodes.get(path)
        if node is not None and node.kind == "directory":
            raise InvalidArgument(f"{file_name}: is a directory")
        if node is None:
            self._parent_directory(path)
        old = node.content if node is not None and append else ""
        self.state.nodes[path] = Node(kind="file", content=old + content)
        return EchoResult(terminal_output=None, path=path)

    @tool(
        consumes={"source": "path", "destination": "path"},
        produces={"path": "path"},
        asks=[
            "Move {source} to {destination}.",
            "Rename {source} to {destination}.",
            "Would you put {source} into {destination}?",
            "Please move {source} over to {destination}.",
            "Relocate {source} to {destination}.",
        ],
        answers=["Moved {@source}; it is now at {path}.", "The new path is {path}."],
    )
    def mv(
        self,
        source: Annotated[str, Field(description="File or directory to move or rename.")],
        destination: Annotated[str, Field(description="New path, or an existing directory to move into.")],
    ) -> PathResult:
        """Move or rename a file or directory. An existing file at the destination is not overwritten."""
        source_path, target = self._transfer_paths(source, destination)
        for path, node in self._subtree(source_path):
            self.state.nodes[target + path[len(source_path) :]] = node
        for path, _ in reversed(self._subtree(source_path)):
            del self.state.nodes[path]
        if self.state.cwd == source_path or self.state.cwd.startswith(source_path + "/"):
            self.state.cwd = target + self.state.cwd[len(source_path) :]
        return PathResult(path=target)

    @tool(
        consumes={"source": "path", "destination": "path"},
        produces={"path": "path"},
        asks=[
            "Copy {source} to {destination}.",
            "Make a copy of {source} in {destination}.",
            "Can you back up {source} into {destination}?",
            "I need a duplicate of {source} in {destination}.",
            "Clone {source} over to {destination}.",
        ],
        answers=["Copied {@source} to {path}.", "The copy is at {path}."],
    )
    def cp(
        self,
        source: Annotated[str, Field(description="File or directory to copy (directories are copied whole).")],
        destination: Annotated[str, Field(description="New path, or an existing directory to copy into.")],
    ) -> PathResult:
        """Copy a file or a whole directory. An existing file at the destination is not overwritten."""
        source_path, target = self._transfer_paths(source, destination)
        for path, node in self._subtree(source_path):
            self.state.nodes[target + path[len(source_path) :]] = node.model_copy()
        return PathResult(path=target)

    @tool(
        consumes={"path": "path"},
        asks=[
            "Delete {path}[{recursive? and everything inside it|}].",
            "Can you get rid of {path}[{recursive?, contents and all|}]?",
            "Throw {path} away[{recursive?, with everything under it|}].",
            "Erase {path}[{recursive? along with all its contents|}].",
            "Remove {path} from the disk[{recursive?, folder contents included|}].",
        ],
        answers=["Deleted {removed} ({removed#} in all).", "Removed {removed}."],
    )
    def rm(
        self,
        path: AnyPath,
        recursive: Annotated[bool, Field(description="Required to remove a non-empty directory.")] = False,
    ) -> RemoveResult:
        """Remove a file, an empty directory, or with `recursive` a whole directory tree."""
        target = self._existing(path)
        if target == "/":
            raise InvalidArgument("refusing to remove the root directory")
        if self.state.cwd == target or self.state.cwd.startswith(target + "/"):
            raise PreconditionFailed(f"{path}: contains the working directory; cd elsewhere first")
        subtree = self._subtree(target)
        if len(subtree) > 1 and not recursive:
            raise PreconditionFailed(f"{path}: directory not empty (use recursive=true)")
        removed = [node_path for node_path, _ in reversed(subtree)]
        for node_path in removed:
            del self.state.nodes[node_path]
        return RemoveResult(removed=removed)

    @tool(
        read_only=True,
        consumes={"path": "dir_path"},
        produces={"matches": "path"},
        asks=[
            "Search the folder tree[ under {path}][ for names matching {name}][, {kind} entries only].",
            "Which entries are there[ under {path}][ matching {name}][ of type {kind}]?",
            "Can you locate everything[ named {name}][ under {path}][ that is a {kind}]?",
            "I need a list of every path[ below {path}][ whose name matches {name}][ that is a {kind}].",
            "Scan the file system[ under {path}][ for {name}][, {kind} entries only].",
        ],
        answers=["Search results ({matches#} in all): {matches}.", "Matching paths: {matches}."],
    )
    def find(
        self,
        path: Annotated[str, Field(description="Directory to search under; defaults to the working directory.")] = ".",
        name: Annotated[
            str | None, Field(description="Glob pattern the base name must match, e.g. '*.txt'; omit to match all.")
        ] = None,
        kind: Annotated[
            Literal["file", "directory"] | None, Field(description="Only files or only directories; omit for both.")
        ] = None,
    ) -> FindResult:
        """Find files and directories under a directory by name pattern and kind."""
        root = self._existing(path, "directory")
        matches = [
            node_path
            for node_path, node in self._subtree(root)[1:]
            if (name is None or fnmatch.fnmatchcase(posixpath.basename(node_path), name))
            and (kind is None or node.kind == kind)
        ]
        return FindResult(matches=sorted(matches))

    @tool(
        read_only=True,
        consumes={"file_name": "file_path"},
        asks=[
            'Which lines in {file_name} contain "{pattern}"[{ignore_case?, ignoring case|}]?',
            'Search {file_name} for "{pattern}"[{ignore_case? in any letter case|}].',
            "Would you show me every line of {file_name} that mentions "
            '"{pattern}"[{ignore_case?, upper or lower case|}]?',
            'Grab the lines with "{pattern}" from {file_name}[{ignore_case?, case-insensitive|}].',
            "Pull out the lines from {file_name} that include "
            '"{pattern}"[{ignore_case? regardless of capitalisation|}].',
            "(Find|Show me|Give me|List) (the lines|every line|all the lines) (in|of) {file_name} (that "
            'contain|with|mentioning) "{pattern}"[{ignore_case?, ignoring case|}].',
        ],
        answers=[
            "Lines of {@file_name} containing {@pattern}: {matching_lines}.",
            "Matching lines in {@file_name}: {matching_lines}",
        ],
    )
    def grep(
        self,
        file_name: FilePath,
        pattern: Annotated[str, Field(description="Text to look for in each line.", min_length=1)],
        ignore_case: Annotated[bool, Field(description="Match regardless of letter case.")] = False,
    ) -> GrepResult:
        """Show the lines of a file that contain a piece of text."""
        needle = pattern.lower() if ignore_case else pattern
        lines = self._file(file_name).content.splitlines()
        return GrepResult(matching_lines=[line for line in lines if needle in (line.lower() if ignore_case else line)])

    @tool(
        read_only=True,
        consumes={"file_name": "file_path"},
        asks=[
            "How long is {file_name}[ in {mode}]?",
            "Give me the size of {file_name}[ counted in {mode}].",
            "How big is {file_name}[, measured in {mode}]?",
            "I need to know the length of {file_name}[ in {mode}].",
            "Measure {file_name}[ by counting its {mode}].",
            "(Tell me|Check|Work out) how (long|big) {file_name} is[ in {mode}].",
        ],
        answers=["Count of {mode} in {@file_name}: {count}.", "I counted the {mode} in {@file_name} and got {count}."],
    )
    def wc(
        self,
        file_name: FilePath,
        mode: Annotated[Literal["lines", "words", "chars"], Field(description="What to count.")] = "lines",
    ) -> CountResult:
        """Count the lines, words or characters of a file."""
        content = self._file(file_name).content
        counts = {"lines": len(content.splitlines()), "words": len(content.split()), "chars": len(content)}
        return CountResult(count=counts[mode], mode=mode)

    @tool(
        read_only=True,
        consumes={"file_name": "file_path"},
        asks=[
            "Show me the lines of {file_name} in alphabetical order[{reverse?, from Z to A|}].",
            "Could you put the lines of {file_name} in order[{reverse?, descending|}]?",
            "I want the lines of {file_name} alphabetized[{reverse? in reverse|}].",
            "List the lines in {file_name} alphabetically[{reverse?, last to first|}].",
            "Order the lines of {file_name}[{reverse? in descending order|}] without changing the file.",
            "(Alphabetize|Order|Arrange) the lines (of|in) {file_name}[{reverse?, from Z to A|}] (for me|without "
            "changing the file|and show me).",
        ],
        answers=[
            "Here are the {lines#} lines of {@file_name} in order: {lines}.",
            "In alphabetical order[{@reverse?, reversed|}], {@file_name} reads: {lines}.",
        ],
    )
    def sort(
        self,
        file_name: FilePath,
        reverse: Annotated[bool, Field(description="Sort in descending order.")] = False,
    ) -> LinesResult:
        """Show the lines of a file sorted alphabetically (the file is not changed)."""
        return LinesResult(lines=sorted(self._file(file_name).content.splitlines(), reverse=reverse))

    @tool(
        read_only=True,
        consumes={"file_name": "file_path"},
        asks=[
            "Show me the first[ {lines}] lines of {file_name}.",
            "What's at the top of {file_name}?[ Just the first {lines} lines.]",
            "Print the opening[ {lines}] lines of {file_name}.",
            "Let me peek at the start of {file_name}[, {lines} lines].",
            "Give me the beginning of {file_name}[, the first {lines} lines].",
            "(Show me|Print|Give me) the (first|opening|top)[ {lines}] lines (of|from) {file_name}( for me| please|).",
        ],
        answers=["The first {lines#} lines of {@file_name}: {lines}", "Top of {@file_name}: {lines}"],
    )
    def head(
        self,
        file_name: FilePath,
        lines: Annotated[int, Field(description="How many lines to show.", ge=0)] = 10,
    ) -> LinesResult:
        """Show the first lines of a file."""
        return LinesResult(lines=self._file(file_name).content.splitlines()[:lines])

    @tool(
        read_only=True,
        consumes={"file_name": "file_path"},
        asks=[
            "Show me the last[ {lines}] lines of {file_name}.",
            "What's at the bottom of {file_name}?[ The last {lines} lines are enough.]",
            "Would you print the final[ {lines}] lines of {file_name}?",
            "How does {file_name} end?[ The last {lines} lines, please.]",
            "Fetch the end of {file_name}[, {lines} lines of it].",
            "(Show me|Print|Give me) the (last|final|closing)[ {lines}] lines (of|from) {file_name}( for me| please|).",
        ],
        answers=["The last {lines#} lines of {@file_name}: {lines}", "End of {@file_name}: {lines}"],
    )
    def tail(
        self,
        file_name: FilePath,
        lines: Annotated[int, Field(description="How many lines to show.", ge=0)] = 10,
    ) -> LinesResult:
        """Show the last lines of a file."""
        all_lines = self._file(file_name).content.splitlines()
        return LinesResult(lines=all_lines[len(all_lines) - lines :] if lines else [])

    @tool(
        read_only=True,
        consumes={"file_name1": "file_path", "file_name2": "file_path"},
        asks=[
            "Compare {file_name1} with {file_name2}.",
            "What changed between {file_name1} and {file_name2}?",
            "Could you show me the changes from {file_name1} to {file_name2}?",
            "Do {file_name1} and {file_name2} match?",
            "Line by line, how does {file_name2} compare to {file_name1}?",
            "(Compare|Check) {file_name1} (against|with|and) {file_name2}( line by line| for me| and show me "
            "what changed|).",
            "(What's|What has) changed between {file_name1} and {file_name2}( line by line| exactly|)?",
        ],
        answers=[
            "Comparing {@file_name1} with {@file_name2}: {diff_lines?they are not the same|they are identical}.",
            "{diff_lines?The files do not match|The files match exactly} ({diff_lines#} lines of changes).",
        ],
    )
    def diff(
        self,
        file_name1: Annotated[str, Field(description="The original file.")],
        file_name2: Annotated[str, Field(description="The changed file.")],
    ) -> DiffResult:
        """Compare two files line by line and show a unified diff."""
        first, second = self._file(file_name1), self._file(file_name2)
        lines = unified_diff(
            first.content.splitlines(),
            second.content.splitlines(),
            self._resolve(file_name1),
            self._resolve(file_name2),
        )
        return DiffResult(diff_lines=lines)

    @tool(
        read_only=True,
        consumes={"path": "path"},
        asks=[
            "How much space is used[ by {path}]?",
            "Check the disk usage[ of {path}].",
            "How many bytes are stored[ under {path}]?",
            "I need the total size[ of {path}].",
            "Show me the space taken[ by {path}].",
            "(How much|What amount of) (disk space|space|storage) (is used|is taken up)[ by {path}]( in total| "
            "altogether|)?",
            "(Tell me|Check|Work out) the (disk usage|total size|space used)[ of {path}]( in bytes| all together|).",
            "(How much|What amount of) (disk space|space|storage) (is used|is taken up)[ by {path}]( in total| "
            "altogether|)?",
            "(Tell me|Check|Work out) the (disk usage|total size|space used)[ of {path}]( in bytes| all together|).",
        ],
        answers=[
            "Disk usage of {path} is {human_readable}.",
            "The files under {path} total {bytes} B, or {human_readable}.",
        ],
    )
    def du(
        self,
        path: Annotated[
            str, Field(description="File or directory to measure; defaults to the working directory.")
        ] = ".",
    ) -> UsageResult:
        """Show the disk usage of a file or of everything under a directory."""
        target = self._existing(path)
        size = sum(len(node.content.encode()) for _, node in self._subtree(target))
        return UsageResult(path=target, bytes=size, human_readable=_human_size(size))

    def _resolve(self, path: str) -> str:
        if not path or "\x00" in path:
            raise InvalidArgument("a path must be a non-empty string without NUL characters")
        return _normalise(self.state.cwd, path)

    def _existing(self, path: str, kind: str | None = None) -> str:
        resolved = self._resolve(path)
        node = self.state.nodes.get(resolved)
        if node is None:
            raise NotFound(f"{path}: no such file or directory")
        if kind is not None and node.kind != kind:
            raise InvalidArgument(f"{path}: not a {kind}")
        return resolved

    def _file(self, path: str) -> Node:
        return self.state.nodes[self._existing(path, "file")]

    def _parent_directory(self, path: str) -> None:
        parent = posixpath.dirname(path)
        node = self.state.nodes.get(parent)
        if node is None:
            raise NotFound(f"{parent}: no such directory")
        if node.kind != "directory":
            raise InvalidArgument(f"{parent}: not a directory")

    def _children(self, directory: str) -> list[tuple[str, Node]]:
        return [
            (path, node)
            for path, node in self.state.nodes.items()
            if path != "/" and posixpath.dirname(path) == directory
        ]

    def _subtree(self, root: str) -> list[tuple[str, Node]]:
        """`root` and everything below it, parents before children."""
        prefix = root.rstrip("/") + "/"
        return sorted(
            ((path, node) for path, node in self.state.nodes.items() if path == root or path.startswith(prefix)),
            key=lambda item: (item[0].count("/"), item[0]),
        )

    def _transfer_paths(self, source: str, destination: str) -> tuple[str, str]:
        """Source and final target of mv/cp, with the checks both need."""
        source_path = self._existing(source)
        if source_path == "/":
            raise InvalidArgument("cannot move or copy the root directory")
        target = self._resolve(destination)
        existing = self.state.nodes.get(target)
        if existing is not None and existing.kind == "directory":
            target = posixpath.join(target, posixpath.basename(source_path))
        if target == source_path or target.startswith(source_path + "/"):
            raise InvalidArgument(f"cannot move or copy {source} into itself")
        if target in self.state.nodes:
            raise PreconditionFailed(f"{destination}: already exists; remove it first or choose another name")
        self._parent_directory(target)
        return source_path, target


def _normalise(cwd: str, path: str) -> str:
    """Absolute, normalised path; '..' never climbs above the root."""
    joined = posixpath.normpath(posixpath.join(cwd, path))
    return "/" + joined.lstrip("/")


def _human_size(size: int) -> str:
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"
