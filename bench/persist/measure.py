"""measure.py — runs one command and prints its output, then a last line
"wall SECONDS peak KB": the wall time and the peak resident memory (max RSS)
of that one process, as the kernel counts it.

    python3 measure.py CMD [ARGS...]
"""
import resource
import subprocess
import sys
import time

start = time.monotonic()
done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, text=True)
wall = time.monotonic() - start
sys.stdout.write(done.stdout)
if done.returncode != 0:
    sys.exit("measure.py: %s exited with %d" % (sys.argv[1], done.returncode))
print("wall %.3f peak %d" % (wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
