/*
 * A stand-in for a vendor's GA/T 947.4 camera library (libbodycam.so), for the tests.
 *
 * It implements the standard's calls over a simulated camera whose state is a text file of
 * key=value lines (values are raw bytes: GBK names as the camera keeps them). The file is
 * named by the IDCode given to Init_Device (the profile's id_code), else by the environment
 * variable BODYCAM_STANDIN_STATE. Keys:
 *
 *   serial badge name unit_no unit_name   ZFY_INFO's fields (may fill their arrays)
 *   id_code                               what GetIDCode returns
 *   password                              the camera password (sPwd)
 *   battery width height                  ReadDeviceBatteryDumpEnergy, ReadDeviceResolution
 *   clock                                 YYYYMMDDhhmmss (a stopped clock), or "host": the
 *                                         host's time in UTC+8 (after SyncDevTime)
 *   image                                 a FAT image: the storage, hidden until SetMSDC,
 *                                         which attaches it to a loop device and writes
 *   storage                               the loop device it is on
 *   hang crash leak                       a call's name: it never returns / segfaults /
 *                                         allocates leak_mb MiB (default 300) and keeps it
 *   spawn                                 a call's name: it starts a child (`sleep
 *                                         spawn_s`, default 30) that keeps the library's
 *                                         standard error, writes its pid to
 *                                         "<state>.spawned", and never returns (a library
 *                                         waiting on a helper it started)
 *
 * Every call is appended to "<state>.calls", one name a line, before it does anything.
 * Results: status 1 and iRet 0 on success; status 0 and iRet 1 no camera, 2 wrong
 * password, 3 failed.
 *
 * Built by the tests with: cc -shared -fPIC -o libbodycam_standin.so libbodycam_standin.c
 * (-DSTANDIN_WITHOUT_SETMSDC: a library that lacks SetMSDC, to test the check at open).
 */

#include <signal.h>
#include <sys/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#pragma pack(push, 1)
typedef struct {
    char cSerial[8];
    char userNo[7];
    char userName[33];
    char unitNo[13];
    char unitName[33];
} ZFY_INFO;
#pragma pack(pop)

#define MAX_KEYS 64
#define MAX_VALUE 512

static char state_path[4096];
static char keys[MAX_KEYS][64];
static char values[MAX_KEYS][MAX_VALUE];
static int count;
static char id_code_buffer[MAX_VALUE];
static char *volatile leaked; /* what a leaking call keeps: never freed */

static int load(void) {
    FILE *f = fopen(state_path, "rb");
    char line[MAX_VALUE + 80];
    count = 0;
    if (f == NULL) return 0;
    while (count < MAX_KEYS && fgets(line, sizeof line, f) != NULL) {
        char *eq = strchr(line, '=');
        size_t n;
        if (eq == NULL) continue;
        *eq = '\0';
        n = strcspn(eq + 1, "\n");
        eq[1 + n] = '\0';
        snprintf(keys[count], sizeof keys[count], "%.63s", line);
        snprintf(values[count], sizeof values[count], "%.511s", eq + 1);
        count++;
    }
    fclose(f);
    return 1;
}

static void save(void) {
    FILE *f = fopen(state_path, "wb");
    int i;
    if (f == NULL) return;
    for (i = 0; i < count; i++) fprintf(f, "%s=%s\n", keys[i], values[i]);
    fclose(f);
}

static const char *get(const char *key) {
    int i;
    for (i = 0; i < count; i++)
        if (strcmp(keys[i], key) == 0) return values[i];
    return "";
}

static void set(const char *key, const char *value, size_t n) {
    int i;
    for (i = 0; i < count; i++)
        if (strcmp(keys[i], key) == 0) break;
    if (i == count) {
        if (count == MAX_KEYS) return;
        snprintf(keys[count++], sizeof keys[0], "%s", key);
    }
    if (n >= MAX_VALUE) n = MAX_VALUE - 1;
    memcpy(values[i], value, n);
    values[i][n] = '\0';
}

/* Log the call, load the state, and misbehave where the state says so. */
static int enter(const char *name) {
    char log_path[4200];
    FILE *f;
    snprintf(log_path, sizeof log_path, "%s.calls", state_path);
    f = fopen(log_path, "ab");
    if (f != NULL) {
        fprintf(f, "%s\n", name);
        fclose(f);
    }
    if (!load()) return 0;
    if (strcmp(get("hang"), name) == 0)
        for (;;) pause();
    if (strcmp(get("spawn"), name) == 0) {
        const char *seconds = get("spawn_s")[0] != '\0' ? get("spawn_s") : "30";
        pid_t pid = fork();
        if (pid == 0) {
            execlp("sleep", "sleep", seconds, (char *)NULL);
            _exit(127);
        }
        if (pid > 0) {
            char pid_path[4200];
            snprintf(pid_path, sizeof pid_path, "%s.spawned", state_path);
            f = fopen(pid_path, "wb");
            if (f != NULL) {
                fprintf(f, "%ld\n", (long)pid);
                fclose(f);
            }
        }
        for (;;) pause();
    }
    if (strcmp(get("crash"), name) == 0) {
        volatile int *nowhere = NULL;
        *nowhere = 1; /* a segfault, as a broken vendor library gives one */
    }
    if (strcmp(get("leak"), name) == 0) {
        long mb = atol(get("leak_mb"));
        size_t size = (size_t)(mb > 0 ? mb : 300) << 20;
        leaked = malloc(size);
        if (leaked != NULL) memset(leaked, 0x5a, size); /* touched, so it is resident */
    }
    return 1;
}

static int fail(int *iRet, int code) {
    *iRet = code;
    return 0;
}

static int ok(int *iRet) {
    *iRet = 0;
    return 1;
}

static int checked(const char *name, const char *sPwd, int *iRet) {
    if (!enter(name)) return fail(iRet, 1);
    if (sPwd == NULL || strcmp(sPwd, get("password")) != 0) return fail(iRet, 2);
    return 1;
}

int Init_Device(const char *IDCode, int *iRet) {
    const char *from_env = getenv("BODYCAM_STANDIN_STATE");
    if (IDCode != NULL && IDCode[0] != '\0')
        snprintf(state_path, sizeof state_path, "%s", IDCode);
    else if (from_env != NULL)
        snprintf(state_path, sizeof state_path, "%s", from_env);
    else
        return fail(iRet, 1);
    if (!enter("Init_Device")) return fail(iRet, 1);
    return ok(iRet);
}

int GetIDCode(char **IDCode, int *iRet) {
    if (!enter("GetIDCode")) return fail(iRet, 1);
    snprintf(id_code_buffer, sizeof id_code_buffer, "%s", get("id_code"));
    *IDCode = id_code_buffer;
    return ok(iRet);
}

int StandinLogin(const char *user, const char *sPwd, int *iRet) {
    if (!checked("StandinLogin", sPwd, iRet)) return 0;
    if (user == NULL || strcmp(user, "admin") != 0) return fail(iRet, 2);
    return ok(iRet);
}

int ReadDeviceBatteryDumpEnergy(int *percent, const char *sPwd, int *iRet) {
    if (!checked("ReadDeviceBatteryDumpEnergy", sPwd, iRet)) return 0;
    *percent = atoi(get("battery"));
    return ok(iRet);
}

int ReadDeviceResolution(int *width, int *height, const char *sPwd, int *iRet) {
    if (!checked("ReadDeviceResolution", sPwd, iRet)) return 0;
    *width = atoi(get("width"));
    *height = atoi(get("height"));
    return ok(iRet);
}

static void copy_field(char *to, size_t size, const char *key) {
    const char *from = get(key);
    size_t n = strlen(from);
    memcpy(to, from, n < size ? n : size); /* a value as long as the array gets no NUL */
}

int GetZFYInfo(ZFY_INFO *info, const char *sPwd, int *iRet) {
    if (!checked("GetZFYInfo", sPwd, iRet)) return 0;
    memset(info, 0, sizeof *info);
    copy_field(info->cSerial, sizeof info->cSerial, "serial");
    copy_field(info->userNo, sizeof info->userNo, "badge");
    copy_field(info->userName, sizeof info->userName, "name");
    copy_field(info->unitNo, sizeof info->unitNo, "unit_no");
    copy_field(info->unitName, sizeof info->unitName, "unit_name");
    return ok(iRet);
}

static void store_field(const char *key, const char *from, size_t size) {
    set(key, from, strnlen(from, size));
}

int WriteZFYInfo(ZFY_INFO *info, const char *sPwd, int *iRet) {
    if (!checked("WriteZFYInfo", sPwd, iRet)) return 0;
    if (info->cSerial[0] == '\0') return fail(iRet, 3); /* the serial may not be empty */
    store_field("badge", info->userNo, sizeof info->userNo);
    store_field("name", info->userName, sizeof info->userName);
    store_field("unit_no", info->unitNo, sizeof info->unitNo);
    store_field("unit_name", info->unitName, sizeof info->unitName);
    save();
    return ok(iRet);
}

/* The vendor's clock call: local time (UTC+8) as YYYYMMDDhhmmss into the caller's buffer. */
int GetDevTime(char *text, const char *sPwd, int *iRet) {
    const char *clock = NULL;
    if (!checked("GetDevTime", sPwd, iRet)) return 0;
    clock = get("clock");
    if (strcmp(clock, "host") == 0) {
        time_t now = time(NULL) + 8 * 3600;
        struct tm parts;
        gmtime_r(&now, &parts);
        strftime(text, 15, "%Y%m%d%H%M%S", &parts);
    } else {
        snprintf(text, 15, "%s", clock);
    }
    return ok(iRet);
}

int SyncDevTime(const char *sPwd, int *iRet) {
    if (!checked("SyncDevTime", sPwd, iRet)) return 0;
    set("clock", "host", 4);
    save();
    return ok(iRet);
}

#ifndef STANDIN_WITHOUT_SETMSDC
int SetMSDC(const char *sPwd, int *iRet) {
    char command[MAX_VALUE + 64];
    char device[256] = "";
    FILE *out;
    if (!checked("SetMSDC", sPwd, iRet)) return 0;
    if (get("image")[0] != '\0') {
        snprintf(command, sizeof command, "losetup -f --show '%s'", get("image"));
        out = popen(command, "r");
        if (out == NULL) return fail(iRet, 3);
        if (fgets(device, sizeof device, out) == NULL) device[0] = '\0';
        if (pclose(out) != 0 || device[0] == '\0') return fail(iRet, 3);
        device[strcspn(device, "\n")] = '\0';
        set("storage", device, strlen(device));
    }
    set("msdc", "1", 1);
    save();
    return ok(iRet);
}
#endif
