-- wrk script for `python -m bench receiver`: each wrk thread sends signed events from its own file, one event a
-- request and none twice, so every 2xx is one event the receiver must have stored. Python signs them beforehand
-- (wrk has no HMAC); a line is "<signature>\t<json body>". Arguments after `--`: path, signature header,
-- the events folder.

local thread_count = 0

function setup(thread)
  thread:set("thread_number", thread_count)
  thread_count = thread_count + 1
end

local requests = {}
local next_request = 1

function init(args)
  local path, signature_header, folder = args[1], args[2], args[3]
  for line in io.lines(folder .. "/events-" .. thread_number .. ".txt") do
    local tab = line:find("\t", 1, true)
    local headers = { ["Content-Type"] = "application/json", [signature_header] = line:sub(1, tab - 1) }
    requests[#requests + 1] = wrk.format("POST", path, headers, line:sub(tab + 1))
  end
end

function request()
  -- Running out would mean sending an event twice: a duplicate the receiver acknowledges but stores once.
  if next_request > #requests then
    error("out of prepared events: raise the events per second the bench prepares")
  end
  local prepared = requests[next_request]
  next_request = next_request + 1
  return prepared
end
