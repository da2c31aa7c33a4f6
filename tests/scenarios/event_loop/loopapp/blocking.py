import asyncio
import concurrent.futures
import io
import os
import pathlib
import queue
import select
import socket
import subprocess
import sys
import threading
import time
import urllib.request


def cpu(seconds):
    """Busy work, like parsing or hashing, for about ``seconds``."""
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


# -- blocking calls ------------------------------------------------------------------------
async def nap():
    time.sleep(0.05)


async def nap_fixed():
    await asyncio.sleep(0.05)


async def read_config(path):
    with open(path) as f:
        return f.read()


async def read_with_pathlib(path):
    return pathlib.Path(path).read_text()


async def read_config_fixed(path):
    return await asyncio.to_thread(pathlib.Path(path).read_text)


async def list_dir(path):
    return sorted(e.name for e in os.scandir(path)) + os.listdir(path)


async def walk_tree(path):
    return [top for top, _dirs, _files in os.walk(path)]


async def file_exists(path):
    return os.path.exists(path)


async def fetch_tcp(port):
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"ping")
        return sock.recv(4)


async def fetch_tcp_fixed(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"ping")
    data = await reader.readexactly(4)
    writer.close()
    await writer.wait_closed()
    return data


async def resolve():
    return socket.getaddrinfo("localhost", 80)


async def resolve_fixed():
    return await asyncio.get_running_loop().getaddrinfo("localhost", 80)


async def http_get(url):
    with urllib.request.urlopen(url) as response:
        return response.read()


async def run_command():
    return subprocess.run([sys.executable, "-c", "pass"], check=True).returncode


async def run_command_fixed():
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    return await proc.wait()


async def shell():
    return os.system("true")


async def wait_event():
    event = threading.Event()
    return event.wait(0.05)  # nobody sets it: waits the whole timeout


async def wait_future():
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(time.sleep, 0.05).result()


async def wait_future_fixed():
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return await asyncio.get_running_loop().run_in_executor(pool, time.sleep, 0.05)


async def queue_get():
    try:
        return queue.Queue().get(timeout=0.05)
    except queue.Empty:
        return None


async def join_thread():
    worker = threading.Thread(target=time.sleep, args=(0.05,))
    worker.start()
    worker.join()


async def ask_user():
    try:
        return input("name? ")
    except (OSError, EOFError):  # pytest's captured stdin: swallowed, still a finding
        return None


# -- never blocking --------------------------------------------------------------------------
async def uncontended():
    semaphore = threading.Semaphore(1)
    semaphore.acquire()
    semaphore.release()
    lock = threading.Lock()
    lock.acquire(blocking=False)
    lock.release()
    event = threading.Event()
    event.set()
    event.wait(1)
    jobs = queue.Queue()
    jobs.put(1)
    jobs.get()
    done = concurrent.futures.Future()
    done.set_result(1)
    return done.result()


async def in_memory_and_stdout():
    buffer = io.BytesIO()
    buffer.write(b"x")
    print("hello")
    sys.stderr.write("progress\n")
    return buffer.getvalue()


async def in_worker_threads(path):
    await asyncio.to_thread(time.sleep, 0.01)
    await asyncio.get_running_loop().run_in_executor(None, os.listdir, path)
    reader = threading.Thread(target=lambda: pathlib.Path(path, "f").exists())
    reader.start()
    await asyncio.to_thread(reader.join)


async def first_import():
    import loopapp.heavy

    return loopapp.heavy.TABLE


# -- stalls ----------------------------------------------------------------------------------
async def crunch():
    return cpu(0.25)


async def crunch_fixed():
    return await asyncio.to_thread(cpu, 0.25)


async def c_level_wait():
    select.select([], [], [], 0.25)


async def many_small_stalls():
    for _ in range(8):
        cpu(0.04)
        await asyncio.sleep(0)


async def nap_long():
    time.sleep(0.25)  # a blocking call: reported as blocking-call, not also as a stall


async def offloaded_chunks():
    for _ in range(10):
        await asyncio.to_thread(cpu, 0.04)  # other threads hold the GIL; the loop is free


async def short_stalls():
    for _ in range(10):
        cpu(0.025)  # each below the 100 ms slow-callback threshold
        await asyncio.sleep(0)
