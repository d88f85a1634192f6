// Lists the long rooms of the code: files over 400 lines and functions over 80 (docs/ARCHITECTURE.md).
//   deno run -A .ci/room_lengths.ts
import ts from "typescript";
const files: string[] = [];
const walk = (d: string) => {
  for (const e of Deno.readDirSync(d)) {
    const p = `${d}/${e.name}`;
    if (e.isDirectory) walk(p);
    else if (p.endsWith(".ts")) files.push(p);
  }
};
walk("lib");
files.push("cli.ts", "mod.ts", "web.ts");
const long: [number, string][] = [];
for (const f of files) {
  const text = Deno.readTextFileSync(f);
  const lines = text.split("\n").length;
  if (lines > 400) console.log(`FILE ${lines} ${f}`);
  const sf = ts.createSourceFile(f, text, ts.ScriptTarget.Latest, true);
  const visit = (n: ts.Node) => {
    if (
      ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n) || ts.isArrowFunction(n) || ts.isFunctionExpression(n)
    ) {
      const a = sf.getLineAndCharacterOfPosition(n.getStart()).line,
        b = sf.getLineAndCharacterOfPosition(n.getEnd()).line;
      const name = (n as ts.FunctionDeclaration).name?.getText() ??
        (ts.isVariableDeclaration(n.parent) ? n.parent.name.getText() : "<anon>");
      if (b - a + 1 > 80) long.push([b - a + 1, `${f}:${a + 1} ${name}`]);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
}
long.sort((x, y) => y[0] - x[0]).forEach(([n, s]) => console.log(`FN ${n} ${s}`));
