using Cake.Core;
using Cake.Core.IO;
using Cake.Core.Packaging;
using Cake.Core.Tooling;

namespace Kiln.Build.Hosting;

/// <summary>
/// CakeContext requires a tool installer. This host does not fetch Cake tools from NuGet (the machines
/// it runs on are often offline); the tools it drives are Debian packages installed by the Setup task.
/// </summary>
internal sealed class UnsupportedToolInstaller : IToolInstaller
{
    public IEnumerable<FilePath> Install(PackageReference tool) => throw new CakeException(
        $"This build host does not install Cake tools ({tool.OriginalString}); install the program with apt-get and put it on PATH.");
}
